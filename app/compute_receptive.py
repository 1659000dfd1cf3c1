"""Receptive fields of a network on an input's size: the rows of /api/receptive (issue 15 §2).

The architecture (or the user's stack) is walked on the input's own H×W, so the boxes are drawn on
that picture; nothing is allocated but the row records. Every number comes from app/engine/receptive.py.
"""
from __future__ import annotations

from app.designs import architecture
from app.encoding import encode_array
from app.engine.errors import GeometryError
from app.engine.receptive import clipped, design_fields_until, field_centre, graph_fields, nearest_output
from app.inputs.resolve import input_shape, resolve_input
from app.schemas_cost import to_layers
from app.schemas_receptive import AxisField, FieldLayer, ReceptiveRequest, ReceptiveResponse


def _model_rows(model_id: str, in_shape, models, s) -> tuple[str, tuple[int, int, int], list, str | None]:
    """An imported model's graph at its own input size (a dynamic H or W takes the picture's)."""
    from app.models.service import model_graph_for  # the model store's parsed-once graphs (issue 13)
    graph, name = model_graph_for(model_id, (in_shape[1], in_shape[2]), models, s)
    rows, stopped = graph_fields(graph)
    return name, tuple(graph.shapes[graph.inputs[0]][1:]), rows, stopped


def receptive_rows(req: ReceptiveRequest, in_shape: tuple[int, int, int], models=None, s=None
                   ) -> tuple[str, tuple[int, int], list[float], list[FieldLayer], str | None]:
    """(network name, the grid [H, W] boxes are in, the point followed, one row per layer, why the walk
    stopped or None)."""
    if req.model is not None:
        name, in_shape, rows, stopped = _model_rows(req.model, in_shape, models, s)
    else:
        if req.design is not None:
            name, layers = req.design.name, to_layers(req.design)
        else:
            arch = architecture(req.network)
            name, layers = arch.title, arch.layers
        rows, stopped = design_fields_until(layers, tuple(in_shape))
    _, h, w = in_shape
    if not rows:
        raise GeometryError(f"no layer of {name} fits a {h}×{w} input: {stopped}")
    point = (float(req.point[0]), float(req.point[1])) if req.point else ((h - 1) / 2, (w - 1) / 2)
    if req.position is not None:
        p = req.position
        if p.layer >= len(rows) or p.row >= rows[p.layer].out_shape[1] or p.col >= rows[p.layer].out_shape[2]:
            raise GeometryError(f"position (layer {p.layer}, row {p.row}, col {p.col}) is outside; there are "
                                f"{len(rows)} layers and layer {min(p.layer, len(rows) - 1)} outputs "
                                f"{list(rows[min(p.layer, len(rows) - 1)].out_shape)}")
        point = field_centre(rows[p.layer], (p.row, p.col), h, w)
    out = []
    for row in rows:
        pos = nearest_output(row, point)
        box = row.field.box(pos[0], pos[1], h, w)
        before = row.input_row()
        pos_in = nearest_output(before, point)
        summary = row.summary()
        out.append(FieldLayer(name=row.name, kind=row.kind, depth=row.depth, out_shape=list(row.out_shape),
                              whole_input=row.field.whole, h=AxisField(**summary["h"]), w=AxisField(**summary["w"]),
                              grows=row.grows, position=list(pos), box=list(box), inside=_list(clipped(box, h, w)),
                              box_before=list(before.field.box(pos_in[0], pos_in[1], h, w))))
    return name, (h, w), list(point), out, stopped


def receptive(req: ReceptiveRequest, models, store, s) -> ReceptiveResponse:
    """POST /api/receptive. No convolution runs here, only the recurrence over shapes (ResNet-50 at 2048²
    in ~9 ms), so it takes no engine slot (app.compute.engine_slot) and never queues behind heavy
    computations; a design's size is checked before validation (app.api.cost.design_size) and the
    input by the usual input limits."""
    if req.include_input:
        x, info = resolve_input(req.input, store, s)
        shape = tuple(x.shape)
    else:
        shape, info = input_shape(req.input, store, s)
    name, grid, point, rows, stopped = receptive_rows(req, shape, models, s)
    return ReceptiveResponse(input=info, input_array=encode_array(x, req.encoding) if req.include_input else None,
                             network=name, grid=list(grid), point=point, rows=rows, stopped=stopped)


def _list(box):
    return None if box is None else list(box)
