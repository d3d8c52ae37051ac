"""The hardware report's comparison of model kinds (fdht / ht / tt / dense
at the same shape: MACs per step, parameters, weight bits) and its plot."""

from __future__ import annotations

import json
import math
from typing import Any, Dict, List, Optional


def _uniform_rank(ranks) -> int:
    if isinstance(ranks, int):
        return ranks
    values = list(ranks.values()) if isinstance(ranks, dict) else list(ranks)
    return int(max(values))


def kind_comparison(model, cfg: Dict[str, Any], width: int) -> List[Dict[str, Any]]:
    """MACs per time step, parameters and weight bits of the recurrent layer of
    every model kind (fdht / ht / tt / dense) at the model's sample shape and
    hidden size, built with ``models.build_model`` (untrained) and costed with
    ``models.rnn_costs``. The model's own kind is the model itself."""
    from keras_model.common.errors import FlowError
    from keras_model.models import KINDS, build_model, rnn_costs

    own = rnn_costs(model)
    h = own["units"]
    sample_shape = tuple(int(s) for s in model.input_shape[1:])
    n_classes = int(model.output_shape[-1])
    base = dict(cfg.get("model") or {})
    base["units"] = h
    if own.get("ht"):
        base["ranks"] = own["ht"]["ranks"]
    key = json.dumps([own, sample_shape, n_classes, base, width], sort_keys=True, default=str)
    if key in _KIND_CACHE:  # building the models costs seconds; the figures depend only on the key
        return [dict(r) for r in _KIND_CACHE[key]]
    rows = []
    for kind in KINDS:
        row: Dict[str, Any] = {"kind": kind}
        if kind == own["kind"]:
            costs = own
        else:
            mcfg = {**base, "kind": kind}
            if kind != "fdht":  # configured modes are FDHT's ([x;h] -> 4H): derive W_x modes
                mcfg["input_modes"] = mcfg["output_modes"] = None
            if kind == "tt":
                mcfg["ranks"] = _uniform_rank(mcfg.get("ranks", 6))
            elif isinstance(mcfg.get("ranks"), dict) and kind != own["kind"]:
                mcfg["ranks"] = _uniform_rank(mcfg["ranks"])
            costs = None
            for attempt in (mcfg, {**mcfg, "input_modes": None, "output_modes": None}):
                try:
                    m = build_model(attempt, sample_shape, n_classes, name=f"cost_{kind}")
                    costs = rnn_costs(m)
                    del m
                    break
                except FlowError as e:
                    row["error"] = str(e)
            if costs is None:
                rows.append(row)
                continue
            row.pop("error", None)
        row.update({"params": int(costs["rnn_params"]), "macs_per_step": int(costs["macs_per_step"]),
                    "weight_bits": int(costs["rnn_params"]) * width})
        rows.append(row)
    _KIND_CACHE[key] = [dict(r) for r in rows]
    return rows


_KIND_CACHE: Dict[str, List[Dict[str, Any]]] = {}


def plot_kinds(rows: List[Dict[str, Any]], path: str, title: str) -> Optional[str]:
    """Two log-scale bar charts: MACs per time step and weight bits per kind."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ok = [r for r in rows if "macs_per_step" in r]
    if not ok:
        return None
    fig = Figure(figsize=(9, 4), dpi=110)
    FigureCanvasAgg(fig)
    names = [r["kind"] for r in ok]
    colors = ["#c0392b" if n == "fdht" else "#7f8c8d" for n in names]
    for i, (key, label) in enumerate((("macs_per_step", "MACs per time step"), ("weight_bits", "LSTM weight bits"))):
        ax = fig.add_subplot(1, 2, i + 1)
        vals = [max(r[key], 1) for r in ok]
        bars = ax.bar(names, vals, color=colors)
        ax.set_yscale("log")
        ax.set_title(label)
        ax.grid(axis="y", which="major", alpha=0.3)
        for b, v in zip(bars, vals):
            ax.annotate(f"{v:,.0f}", (b.get_x() + b.get_width() / 2, v), ha="center", va="bottom", fontsize=8)
        ax.set_ylim(bottom=10 ** math.floor(math.log10(min(vals))) / 2, top=max(vals) * 8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    return path
