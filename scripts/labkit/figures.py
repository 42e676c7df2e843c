"""The lessons' pictures: each helper draws one figure and returns what the lesson checks about it.

Runs in the student's kernel. Standard library at import; matplotlib and torch are imported inside the
helpers. A helper holds no language of its own: the lesson passes every text it draws (``lesson.t(...)``),
and asserts on the values the helper returns, so that a picture cannot quietly show something else.

    show_broadcast(a, b, result, titles)    a + b = result, the cells broadcasting reuses dashed (lessons 01, 06)
    show_shapes(tensors, names, titles, dim_labels)    2-D tensors as grids, 3-D ones as stacks (lesson 05)
    show_cat(tensors, names, titles, grow_labels)      torch.cat along each dim, coloured by input (lesson 06)
    show_writes(before, panels)             a tensor and a piece of it after a write, view or copy (lesson 07)
    draw_graph(output, leaf, ...)           autograd's graph from output back to leaf, boxes and arrows (lesson 08)
    show_images(pictures, titles, columns, title)   small grey images in a grid, a title above each (lesson 14)
    draw_steps(steps, title)                boxes joined by arrows, a note under each (lesson 14)
"""

from __future__ import annotations

FILLS = ("#9fc5e8", "#f9cb9c", "#b6d7a8", "#ffe599")  # blue, orange, green, yellow: one per input
CHANGED = "#ea9999"  # red: a cell whose value changed
FADED = "#f2f2f2"  # grey: a cell that is not really there (broadcasting reuses another one)


def _text(value) -> str:
    """A number as a cell shows it: 11.0 as 11, 0.25 as 0.25."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def _cells(ax, values, x0=0.0, y0=0.0, fill=FILLS[0], fills=None, faded=(), layer=0):
    """Draw a 2-D list as boxes, row 0 on top, lower-left corner at (x0, y0); cells in faded are dashed and grey."""
    from matplotlib.patches import Rectangle

    n_rows = len(values)
    for i, line in enumerate(values):
        for j, value in enumerate(line):
            grey = (i, j) in faded
            face = FADED if grey else (fills[i][j] if fills else fill)
            ax.add_patch(
                Rectangle(
                    (x0 + j, y0 + n_rows - 1 - i),
                    1,
                    1,
                    facecolor=face,
                    edgecolor="#aaaaaa" if grey else "black",
                    linestyle="--" if grey else "-",
                    zorder=2 * layer,
                )
            )
            ax.text(
                x0 + j + 0.5,
                y0 + n_rows - 0.5 - i,
                _text(value),
                ha="center",
                va="center",
                color="#999999" if grey else "black",
                zorder=2 * layer + 1,
            )


def _arrow(ax, start, end):
    """An arrow from start to end, in data coordinates."""
    ax.annotate("", xy=end, xytext=start, arrowprops={"arrowstyle": "->"})


def _finish(axes):
    """Square cells, no frame, then show the figure."""
    import matplotlib.pyplot as plt

    for ax in axes:
        ax.set_aspect("equal")
        ax.axis("off")
    plt.tight_layout()
    plt.show()


def show_broadcast(a, b, result, titles, title=None):
    """Draw a + b = result as three grids, the cells broadcasting reuses dashed; return those cells for a and b."""
    import matplotlib.pyplot as plt
    import torch

    result = torch.as_tensor(result)
    if result.dim() != 2:
        raise ValueError(f"show_broadcast draws 2-D results, not shape {tuple(result.shape)}")
    shape = tuple(result.shape)
    grids, reused = [], []
    for operand in (a, b):
        stretched = torch.as_tensor(operand).expand(shape)  # a view: stride 0 along the axes it reuses
        axes_reused = [d for d, step in enumerate(stretched.stride()) if step == 0 and shape[d] > 1]
        reused.append({(i, j) for i in range(shape[0]) for j in range(shape[1]) if any((i, j)[d] for d in axes_reused)})
        grids.append(stretched.tolist())
    grids.append(result.tolist())

    rows, cols = shape
    fig, axes = plt.subplots(1, 3, figsize=(3 * (0.8 * cols + 0.9), 0.8 * rows + 1.4))
    for ax, values, faded, heading in zip(axes, grids, reused + [set()], titles):
        _cells(ax, values, faded=faded)
        ax.set_xlim(-0.1, cols + 0.1)
        ax.set_ylim(-0.1, rows + 0.1)
        ax.set_title(heading)
    for ax, sign in zip(axes[1:], "+="):
        ax.text(-0.45, rows / 2, sign, fontsize=22, ha="center", va="center", clip_on=False)
    if title:
        fig.suptitle(title)
    _finish(axes)
    return reused


def show_shapes(tensors, names, titles, dim_labels):
    """Draw each 2-D tensor as a grid and each 3-D one as a stack of grids, dims as arrows; return the grids drawn."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(tensors), figsize=(4.5 * len(tensors), 3.6), squeeze=False)
    drawn = []
    for ax, tensor, name, heading, labels in zip(axes[0], tensors, names, titles, dim_labels):
        if tensor.dim() == 2:
            rows, cols = tensor.shape
            _cells(ax, tensor.tolist())
            _arrow(ax, (-0.3, rows), (-0.3, 0))
            ax.text(-0.45, rows / 2, labels[0], rotation=90, ha="right", va="center")
            _arrow(ax, (0, rows + 0.3), (cols, rows + 0.3))
            ax.text(cols / 2, rows + 0.45, labels[1], ha="center", va="bottom")
            ax.set_xlim(-1.2, cols + 0.4)
            ax.set_ylim(-0.4, rows + 1.8)
            drawn.append([tensor.tolist()])
        elif tensor.dim() == 3:
            depth, rows, cols = tensor.shape
            shift = 0.7  # each matrix behind the one before, name[0] in front
            for k in range(depth):
                _cells(ax, tensor[k].tolist(), x0=shift * k, y0=shift * k, fill=FILLS[k % len(FILLS)], layer=depth - k)
                ax.text(shift * k + cols + 0.1, shift * k + 0.2, f"{name}[{k}]", ha="left", va="center")
            back = shift * (depth - 1)
            _arrow(ax, (0.2, rows + 0.1), (0.2 + back, rows + 0.1 + back))
            ax.text(0.2 + back / 2 - 0.4, rows + 0.1 + back / 2 + 0.3, labels[0], ha="right", va="center")
            ax.set_xlim(-2.4, back + cols + 1.6)
            ax.set_ylim(-0.4, rows + back + 0.4)
            drawn.append([tensor[k].tolist() for k in range(depth)])
        else:
            raise ValueError(f"show_shapes draws 2-D and 3-D tensors, not {tensor.dim()}-D {name}")
        ax.set_title(heading, pad=24)
    _finish(axes[0])
    return drawn


def show_cat(tensors, names, titles, grow_labels, dims=(0, 1)):
    """Draw the 2-D inputs, then torch.cat along each dim, cells coloured by input; return {dim: (values, source)}."""
    import matplotlib.pyplot as plt
    import torch

    joined = {}
    for dim in dims:
        source = torch.cat([torch.full(t.shape, k, dtype=torch.long) for k, t in enumerate(tensors)], dim=dim)
        joined[dim] = (torch.cat(tensors, dim=dim).tolist(), source.tolist())
    rows = max([len(v) for v, _ in joined.values()] + [t.shape[0] for t in tensors])
    cols = max([len(v[0]) for v, _ in joined.values()] + [sum(t.shape[1] for t in tensors) + 0.6 * (len(tensors) - 1)])

    fig, axes = plt.subplots(1, 1 + len(dims), figsize=(3.7 * (1 + len(dims)), 3.8))
    x0 = 0.0
    for k, (tensor, name) in enumerate(zip(tensors, names)):
        _cells(axes[0], tensor.tolist(), x0=x0, y0=1, fill=FILLS[k])
        axes[0].text(x0 + tensor.shape[1] / 2, 0.6, name, ha="center", va="top")
        x0 += tensor.shape[1] + 0.6
    axes[0].set_title(titles[0])
    for ax, dim, heading, label in zip(axes[1:], dims, titles[1:], grow_labels):
        values, source = joined[dim]
        fills = [[FILLS[k] for k in line] for line in source]
        if dim == 0:  # grows downwards: an arrow down the left side
            _cells(ax, values, x0=1.3, fills=fills)
            _arrow(ax, (0.9, len(values)), (0.9, 0))
            ax.text(0.7, len(values) / 2, label, rotation=90, ha="right", va="center")
        else:  # grows to the right: an arrow along the top
            _cells(ax, values, y0=1, fills=fills)
            _arrow(ax, (0, len(values) + 1.4), (len(values[0]), len(values) + 1.4))
            ax.text(len(values[0]) / 2, len(values) + 1.6, label, ha="center", va="bottom")
        ax.set_title(heading)
    for ax in axes:
        ax.set_xlim(-0.3, cols + 0.9)
        ax.set_ylim(-0.6, rows + 0.4)
    _finish(axes)
    return joined


def show_writes(before, panels):
    """Side by side, a 1-D tensor x and a piece of it after a write, changed cells red; return what changed.

    Each panel is a dict: x (x's values after the write), piece (the piece's values), name (the piece's
    name), start (where the piece began in x), shared (True for a view: dashed lines join the cells that
    are the same memory), note and title (texts). Returns, per panel, (positions changed in x, in the piece).
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 3.4), squeeze=False)
    changed = []
    for ax, panel in zip(axes[0], panels):
        start, piece = panel["start"], panel["piece"]
        in_x = {j for j, (u, v) in enumerate(zip(before, panel["x"])) if u != v}
        in_piece = {j for j, (u, v) in enumerate(zip(before[start:], piece)) if u != v}
        changed.append((in_x, in_piece))
        for values, x0, y, red, label in ((panel["x"], 0, 2, in_x, "x"), (piece, start, 0, in_piece, panel["name"])):
            _cells(ax, [values], x0=x0, y0=y, fills=[[CHANGED if j in red else FILLS[0] for j in range(len(values))]])
            ax.text(x0 - 0.2, y + 0.5, label, ha="right", va="center")
        end = start + len(piece)
        if panel["shared"]:
            for j in range(start, end):
                ax.plot([j + 0.5, j + 0.5], [1, 2], linestyle="--", color="gray")
        ax.text(end + 0.2, 1.5 if panel["shared"] else 0.5, panel["note"], ha="left", va="center", color="gray")
        ax.set_title(panel["title"])
        ax.set_xlim(-1.6, len(before) + 0.6)
        ax.set_ylim(-0.3, 3.3)
    _finish(axes[0])
    return changed


def _operation(node, stored_label: str) -> str:
    """An autograd node's box: its class name, then what it did in the forward pass."""
    name = type(node).__name__
    if name == "AccumulateGrad":
        return f"{name}\n{stored_label}"
    if hasattr(node, "_saved_exponent"):
        return f"{name}\nt ** {node._saved_exponent}"
    if name.startswith("Mul"):
        return f"{name}\na × b"
    if name.startswith("Add"):
        return f"{name}\na + b"
    return name


def draw_graph(output, leaf, *, output_label, leaf_label, constant_label, stored_label, title):
    """Draw autograd's graph from output back to leaf as boxes and arrows; return the boxes (name, kind, children).

    Walks output.grad_fn through next_functions, as backward() does. Boxes are the tensors output and
    leaf (kind "tensor"), the operation nodes ("operation", named by class) and the inputs that need no
    gradient ("constant"). children holds the indices of the boxes an arrow goes to.
    """
    import matplotlib.pyplot as plt

    children = {"output": [output.grad_fn], "leaf": []}
    label = {"output": output_label, "leaf": leaf_label}
    kind = {"output": "tensor", "leaf": "tensor"}

    def visit(node):
        if node in children:  # reached again along another path
            return
        children[node], label[node], kind[node] = [], _operation(node, stored_label), "operation"
        for i, (child, _) in enumerate(node.next_functions):
            if child is None:  # an input that needs no gradient
                child = (node, i)
                children[child], label[child], kind[child] = [], constant_label, "constant"
            else:
                visit(child)
            children[node].append(child)
        if getattr(node, "variable", None) is leaf:  # AccumulateGrad hands the gradient to the leaf
            children[node].append("leaf")

    visit(output.grad_fn)

    # Layout: a box's row is its longest path down to the leaf; a child sits under the mean of its parents.
    row = {}

    def find_row(box):
        if box not in row:
            below = [find_row(c) for c in children[box] if kind[c] != "constant"]
            row[box] = 1 + max(below) if below else 0
        return row[box]

    find_row("output")
    for box in children:
        for c in children[box]:
            if kind[c] == "constant":
                row[c] = row[box] - 1
    column, suggested = {"output": 0.0}, {}
    for box in sorted(children, key=lambda b: -row[b]):
        if box != "output":
            column[box] = sum(suggested[box]) / len(suggested[box])
        for i, c in enumerate(children[box]):
            suggested.setdefault(c, []).append(column[box] + 2.6 * (i - (len(children[box]) - 1) / 2))

    fills = {"tensor": "#cfe2f3", "operation": "#fce5cd", "constant": "#eeeeee"}
    fig, ax = plt.subplots(figsize=(8, 9))
    for box in children:
        for c in children[box]:
            ax.annotate(
                "",
                xy=(column[c], 1.3 * row[c]),
                xytext=(column[box], 1.3 * row[box]),
                arrowprops={"arrowstyle": "-|>", "color": "dimgray", "shrinkA": 22, "shrinkB": 22, "linewidth": 1.2},
            )
    for box in children:
        ax.text(
            column[box],
            1.3 * row[box],
            label[box],
            ha="center",
            va="center",
            fontsize=9,
            bbox={"boxstyle": "round,pad=0.45", "facecolor": fills[kind[box]], "edgecolor": "gray"},
        )
    ax.set_xlim(min(column.values()) - 1.8, max(column.values()) + 1.8)
    ax.set_ylim(-0.8, 1.3 * row["output"] + 0.8)
    ax.axis("off")
    ax.set_title(title)
    plt.show()

    boxes = list(children)
    index = {box: n for n, box in enumerate(boxes)}
    names = {"output": "output", "leaf": "leaf"}
    return [
        {
            "name": names.get(box, "constant" if kind[box] == "constant" else type(box).__name__),
            "kind": kind[box],
            "children": [index[c] for c in children[box]],
        }
        for box in boxes
    ]


def show_images(pictures, titles, columns, title, title_colors=None):
    """Small grey images (values 0 to 1) in a grid of `columns`, each with a line of text above it."""
    import matplotlib.pyplot as plt

    rows = max(1, -(-len(pictures) // columns))  # rounded up
    fig, axes = plt.subplots(rows, columns, figsize=(1.2 * columns, 1.6 * rows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(pictures):
            ax.imshow(pictures[i], cmap="gray_r", vmin=0, vmax=1)
            ax.set_title(titles[i], fontsize=9, color=title_colors[i] if title_colors else "black")
    fig.suptitle(title)
    fig.tight_layout()
    plt.show()
    return fig


def draw_steps(steps, title):
    """Steps as boxes joined by arrows, left to right; steps: (name, note under it) pairs."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2.3 * len(steps), 2.0))
    for i, (name, note) in enumerate(steps):
        box = {"boxstyle": "round,pad=0.4", "facecolor": "#deebf7", "edgecolor": "tab:blue"}
        ax.text(i, 0.2, name, ha="center", va="center", fontsize=10, bbox=box)
        ax.text(i, -0.35, note, ha="center", va="center", fontsize=9, color="dimgray")
        if i > 0:
            ax.annotate("", xy=(i - 0.40, 0.2), xytext=(i - 0.60, 0.2), arrowprops={"arrowstyle": "->", "lw": 1.5})
    ax.set_xlim(-0.6, len(steps) - 0.4)
    ax.set_ylim(-0.7, 0.6)
    ax.axis("off")
    ax.set_title(title)
    plt.show()
    return fig
