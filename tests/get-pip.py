# Stands in for pip's get-pip.py, which `ansible-test sanity --venv`
# downloads to bootstrap pip in the venvs it makes, from a host that only
# the package index is an alternative to here: pip from the standard
# library's ensurepip, then what ansible-test asks for from the index.
import subprocess
import sys

subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"])
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "pip", "install"] + args)
