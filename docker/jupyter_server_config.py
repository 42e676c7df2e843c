# Server settings of the lab, baked into the image (the venv's etc/jupyter).
# The token is read by the server from JUPYTER_TOKEN_FILE, a file compose mounts.
c = get_config()  # noqa: F821

c.ServerApp.ip = "0.0.0.0"  # inside the container; compose publishes it on 127.0.0.1 only
c.ServerApp.open_browser = False
c.ServerApp.root_dir = "/home/student/work"
# Requests must name this machine in their Host header (guards against DNS rebinding).
c.ServerApp.allow_remote_access = False
# Nothing reaches out to the network: no update checks, no news, no extension catalogue.
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
c.LabApp.news_url = None
c.LabApp.extension_manager = "readonly"
# Kernels forked from a template that imported torch, numpy and matplotlib as the server started
# (labkit/warm): a lesson's first cell answers at once. LAB_WARM_KERNELS=0 spawns each kernel.
c.ServerApp.jpserver_extensions.update({"labkit.warm": True})
c.KernelProvisionerFactory.default_provisioner_name = "labkit-warm"
# A terminal runs bash as the server's child, not a login shell: a login shell's /etc/profile would put back
# the system's PATH, and `pip` there would not be the student's (labkit/packages.py).
c.ServerApp.terminado_settings = {"shell_command": ["/bin/bash"]}
