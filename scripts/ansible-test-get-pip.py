"""Stand-in for the get-pip bootstrap script that ansible-test downloads from
ansible's CI file server, for machines that only reach PyPI.

ansible-test runs it inside a new, empty virtualenv with get-pip's command
line: pip install options, get-pip's own --no-setuptools/--no-wheel, and the
packages to install (pip==X among them).  Python's bundled ensurepip provides a
first pip, which then installs the requested packages from the package index.
"""
import ensurepip
import os
import subprocess
import sys

GET_PIP_ONLY = ('--no-setuptools', '--no-wheel')

# ensurepip points PIP_CONFIG_FILE at /dev/null for its own run; the real install
# must see the machine's pip configuration (index, certificates) again.
environment = dict(os.environ)
ensurepip.bootstrap(upgrade=True, default_pip=True)
args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY]
sys.exit(subprocess.call([sys.executable, '-m', 'pip', 'install', '--upgrade'] + args, env=environment))
