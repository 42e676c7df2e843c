# Kernel settings of the lab, baked into the image (the venv's etc/ipython).
c = get_config()  # noqa: F821

# The kernel talks to its server over loopback inside the container; its warning that the
# connection is unencrypted would only reach the student's notebooks as noise.
c.IPKernelApp.log_level = "ERROR"
