# Kernel settings of the lab, baked into the image (/etc/ipython: read whichever environment runs the kernel).
c = get_config()  # noqa: F821

# The kernel talks to its server over loopback inside the container; its warning that the
# connection is unencrypted would only reach the student's notebooks as noise.
c.IPKernelApp.log_level = "ERROR"
# %pip installs for the student, into the workspace, under the lock (labkit/packages.py).
c.InteractiveShellApp.extensions = ["labkit.packages"]
