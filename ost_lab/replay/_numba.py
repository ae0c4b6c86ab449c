"""numba set-up for the replay: an on-disk kernel cache under the user's cache folder.

numba reads ``NUMBA_CACHE_DIR`` when it is imported, so this module sets it (if the user has
not) before importing numba, and reloads numba's config if numba was imported earlier. Every
replay kernel is compiled with ``cache=True``, so a fresh process pays no compile again.

The venue and the replay loops are compiled without numba's reference-counting runtime
(:data:`vjit`): they never allocate, and with the runtime every array handed between jitted
functions costs atomic increments and decrements (measured: about half of a replay's time).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, cast

from ost_lab.paths import cache_dir

if not os.environ.get("NUMBA_CACHE_DIR"):
    os.environ["NUMBA_CACHE_DIR"] = str(cache_dir() / "numba")
    if "numba" in sys.modules:  # imported before us: make it see the variable
        from numba.core import config as _config

        _config.reload_config()

import numba
from llvmlite import binding as _llvm
from llvmlite import ir as _ir
from numba import types as _types
from numba.core import cgutils as _cgutils
from numba.extending import intrinsic as _intrinsic

from ost_lab.core import matching

__all__ = [
    "M",
    "here",
    "jit",
    "jit_noalias",
    "nonneg",
    "prefetch",
    "vjit",
    "vjit_inline",
    "vjit_noalias",
]

#: ``numba.njit(cache=True)``: the decorator for every replay kernel.
jit: Callable[[Callable[..., Any]], Any] = numba.njit(cache=True)

#: ``jit`` without numba's reference-counting runtime: for code that never allocates (the
#: venue, the replay loops). Such code cannot create arrays.
_NO_NRT: dict[str, Any] = {"_nrt": False}  # numba's option (private name, stable since 0.4x)
vjit: Callable[[Callable[..., Any]], Any] = numba.njit(cache=True, **_NO_NRT)


def _noalias_option() -> dict[str, Any]:
    """The decorator option for numba's ``noalias`` flag, mapped here (numba has the flag but
    no decorator option for it); empty if this numba has no such flag (then loops compile
    without it: slower, same results).

    With it, LLVM knows that no two array arguments share memory, so a replay loop keeps a
    kernel's running state and parameters in registers instead of reloading them after every
    store (measured: the idle-bar loop of the SMA kernel about 1.3x faster). Callers must pass
    arrays that do not overlap where one of them is written."""
    from numba.core import compiler, cpu, options

    if not hasattr(compiler.Flags, "noalias"):
        return {}
    if not hasattr(cpu.CPUTargetOptions, "_ost_noalias"):
        setattr(cpu.CPUTargetOptions, "_ost_noalias", options.TargetOptions.Mapping("noalias"))  # noqa: B010
    return {"_ost_noalias": True}


#: ``vjit`` for functions whose array arguments never overlap where one is written (the
#: replay loops): see :func:`_noalias_option`.
NOALIAS: dict[str, Any] = _noalias_option()
vjit_noalias: Callable[[Callable[..., Any]], Any] = numba.njit(cache=True, **_NO_NRT, **NOALIAS)
jit_noalias: Callable[[Callable[..., Any]], Any] = numba.njit(cache=True, **NOALIAS)

#: ``vjit`` inlined into its callers at numba-IR level (the venue's functions: a call passes
#: every table on the stack, and inlining them into the replay loop measured ~10 % faster).
vjit_inline: Callable[[Callable[..., Any]], Any] = numba.njit(
    cache=True, inline="always", **_NO_NRT
)

#: core's fill rules (``core.matching``), compiled once: the same code the sandbox runs.
M: dict[str, Any] = matching.njit_all(vjit)

_PREFETCH = "llvm.prefetch.p0" if _llvm.llvm_version_info[0] >= 15 else "llvm.prefetch.p0i8"


@_intrinsic
def prefetch(typingctx: Any, arr: Any, idx: Any) -> Any:
    """Ask the CPU to start loading ``arr[idx]`` (1-D array) into cache. A hint only: no effect
    on results and never faults, so any index is allowed (past the end is harmless)."""
    if not isinstance(arr, _types.Array) or arr.ndim != 1 or not isinstance(idx, _types.Integer):
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        i8p = _ir.IntType(8).as_pointer()
        i32 = _ir.IntType(32)
        fnty = _ir.FunctionType(_ir.VoidType(), [i8p, i32, i32, i32])
        fn = _cgutils.get_or_insert_function(builder.module, fnty, _PREFETCH)
        ptr = builder.bitcast(builder.gep(ary.data, [args[1]]), i8p)
        builder.call(fn, [ptr, i32(0), i32(3), i32(1)])  # read, keep in all levels, data
        return context.get_dummy_value()

    return _types.void(arr, idx), codegen


@_intrinsic
def _nonneg(typingctx: Any, idx: Any) -> Any:
    """``idx``, with the compiler told that it is ``>= 0`` (``llvm.assume``), so array reads
    at it skip numba's negative-index wraparound. The caller guarantees it: a negative value
    is undefined behaviour."""
    if not isinstance(idx, _types.Integer) or not getattr(idx, "signed", False):
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        (value,) = args
        fnty = _ir.FunctionType(_ir.VoidType(), [_ir.IntType(1)])
        fn = _cgutils.get_or_insert_function(builder.module, fnty, "llvm.assume")
        builder.call(fn, [builder.icmp_signed(">=", value, value.type(0))])
        return value

    return idx(idx), codegen


#: :func:`_nonneg`, typed for callers (an index the caller knows is ``>= 0``, jitted code only).
nonneg = cast(Callable[[int], int], _nonneg)


@_intrinsic
def _here(typingctx: Any, x: Any) -> Any:
    """``x`` (a float), passed through an empty assembly statement the compiler must keep
    where it is: what is computed from the result cannot be moved out of the branch it is in."""
    if not isinstance(x, _types.Float) or getattr(x, "bitwidth", 0) != 64:
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        i64 = _ir.IntType(64)
        bits = builder.bitcast(args[0], i64)
        kept = builder.asm(_ir.FunctionType(i64, [i64]), "", "=r,0", [bits], True)
        return builder.bitcast(kept, _ir.DoubleType())

    return x(x), codegen


#: :func:`_here`, typed for callers (jitted code only). LLVM hoists costly pure arithmetic
#: (a square root, a division) out of loops even from branches that never run; a value through
#: ``here`` stays in its branch.
here = cast(Callable[[float], float], _here)
