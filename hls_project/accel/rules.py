"""The scheduling rules an HLS tool applies to a pipelined loop, as numbers.

Both the cost model (``model.py``) and the lint (``lint.py``) take their
initiation intervals from here, so a MODEL figure never assumes an II the
rules do not allow. Sources (AMD UG1399, Vitis HLS user guide, and UG902,
Vivado HLS):

* memory ports: a RAM_2P / RAM_1P block has one or two ports; a ROM has two
  read ports. A loop iteration that makes ``n`` accesses to one bank needs
  ``II >= ceil(n / ports)`` ("Arrays: RAM ports", "Array partitioning").
* the bank of an access into a cyclically/completely partitioned array is a
  compile-time constant only when the index is constant after unrolling or
  every varying term is a multiple of the factor; otherwise the access is
  charged against every bank ("ARRAY_PARTITION", dynamic indexing).
* a loop-carried dependence of latency ``L`` cycles at distance ``d``
  iterations needs ``II >= ceil(L / d)`` ("Loop-carried dependencies",
  the DEPENDENCE pragma's ``distance`` option).
"""

from __future__ import annotations

import math

#: read ports of a ROM, ports of a dual-port RAM (one read + one write in RAM_2P)
ROM_PORTS = 2
RAM_READ_PORTS = 1
RAM_WRITE_PORTS = 1
#: carried latency of an accumulator update: in registers the adder alone;
#: through a RAM: read, add, write
ACC_LATENCY_REG = 1
ACC_LATENCY_RAM = 2
#: the tools' partition limit (Vivado HLS XFORM 203-103 above it; build_prj.tcl)
MAX_PARTITION = 4096
#: the widest top-level port we generate (bits)
MAX_PORT_BITS = 1024


def ii_ports(accesses: int, ports: int) -> int:
    """II that ``accesses`` per iteration to one bank with ``ports`` ports allow."""
    return max(1, math.ceil(accesses / ports)) if accesses else 1


def ii_carried(latency: int, distance: int) -> int:
    """II of a loop-carried dependence of ``latency`` cycles at ``distance`` iterations."""
    return max(1, math.ceil(latency / max(distance, 1)))


def acc_ii(rows: int) -> int:
    """II of an accumulator with ``rows`` rows, updated once per iteration in
    rotation (one adder on the carried path after the product tree)."""
    if rows <= 1:
        return ii_carried(ACC_LATENCY_REG, 1)
    return ii_carried(ACC_LATENCY_RAM, rows)


def tree_depth(n: int) -> int:
    """Adder levels of a balanced tree over ``n`` products."""
    return max(0, math.ceil(math.log2(n))) if n > 1 else 0
