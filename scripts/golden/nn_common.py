"""Shared by the gd.nn generators in scripts/golden/ (nn_layers.py, nn_rnn.py,
nn_cross_entropy.py, nn_conv_transpose.py): Lua literals of Python values,
floats written exactly (repr: the shortest string that reads back as the same
double, so the specs' 1e-10 comparisons test the code, not the printing)."""


def lua(v):
    if isinstance(v, dict):
        return "{" + ", ".join("[%s] = %s" % (lua(k), lua(x)) for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return "{" + ", ".join(lua(x) for x in v) + "}"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return '"' + v + '"'
    return repr(float(v))


def flat(t):
    """A tensor's values in C order, as Python floats."""
    return [float(v) for v in t.detach().reshape(-1).tolist()]
