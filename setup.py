"""Build the compiled core: every pyx/NAME.pyx becomes pystack._core.NAME.

Cython resolves `from pystack._core.NAME cimport ...` by looking for
pystack/_core/NAME.pxd on its include path, while the sources live flat in
pyx/.  A symlink build/cython-include/pystack/_core -> pyx/ bridges the two,
so cross-module cimports carry the package-qualified module name that the
compiled modules really have at run time.
"""
import os
import sys

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
PYX = os.path.join(HERE, "pyx")
INCLUDE = os.path.join(HERE, "build", "cython-include")


def _bridge_include_dir():
    pkg = os.path.join(INCLUDE, "pystack")
    os.makedirs(pkg, exist_ok=True)
    link = os.path.join(pkg, "_core")
    if os.path.islink(link) and os.readlink(link) == PYX:
        return
    if os.path.lexists(link):
        os.remove(link)
    os.symlink(PYX, link)


def _extensions():
    cflags = ["-O3", "-fno-strict-aliasing"]
    if os.environ.get("PYSTACK_NATIVE") == "1":
        # Opt-in: binaries built this way only run on CPUs like the build host.
        cflags.append("-march=native")
    if sys.platform == "win32":
        cflags = ["/O2"]
    # PYSTACK_ONLY=parse,checksum builds just those modules (development).
    only = {m for m in os.environ.get("PYSTACK_ONLY", "").split(",") if m}
    exts = []
    for name in sorted(os.listdir(PYX)):
        if name.endswith(".pyx"):
            mod = name[:-4]
            if only and mod not in only:
                continue
            exts.append(
                Extension(
                    f"pystack._core.{mod}",
                    [os.path.join("pyx", name)],
                    include_dirs=[numpy.get_include(), PYX],
                    extra_compile_args=cflags,
                    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
                )
            )
    return exts


_bridge_include_dir()
setup(
    ext_modules=cythonize(
        _extensions(),
        include_path=[INCLUDE, PYX],
        language_level=3,
        compiler_directives={
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
            "embedsignature": True,
        },
    )
)
