"""Filter trees from keyword arguments (the CLI's cohort flags)."""

import math
import numbers

from ._proto import rpc_pb2

FILTER_KEYS = {
    "age_min", "age_max", "interests", "interests_all", "interests_none", "gender", "country",
    "state", "city", "education", "income_min", "income_max",
}


def _list(v, key):
    if isinstance(v, str):
        return [x.strip() for x in v.split(",") if x.strip()]
    if isinstance(v, (bytes, dict)) or not hasattr(v, "__iter__"):
        # np.nan said "'float' object is not iterable".
        raise ValueError(f"{key}: {v!r} is not a value (give a string or a list of strings)")
    out = []
    for x in v:
        # None was sent as "None"; "" and NaN matched no one without a word.
        if x is None or (isinstance(x, float) and math.isnan(x)) or (isinstance(x, str) and not x.strip()):
            raise ValueError(f"{key}: {list(v)!r} holds an empty or missing value")
        out.append(str(x))
    return out


def _whole(v, key):
    """A bound as the CLI takes it: a whole number (an int, or a float without a fraction)."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not float(v).is_integer():
        raise ValueError(f"{key}: {v!r} is not a whole number (for amounts like 50k or ranges, use where=)")
    return int(v)


def build_filter(**kw):
    """An audience.v1.Filter requiring every given predicate, or None when none is given."""
    unknown = set(kw) - FILTER_KEYS
    if unknown:
        raise TypeError(f"unknown filter argument(s): {', '.join(sorted(unknown))}")
    parts = []
    if kw.get("age_min") is not None or kw.get("age_max") is not None:
        f = rpc_pb2.Filter()
        if kw.get("age_min") is not None:
            f.age.min = _whole(kw["age_min"], "age_min")
        if kw.get("age_max") is not None:
            f.age.max = _whole(kw["age_max"], "age_max")
        if not f.HasField("age"):
            f.age.SetInParent()
        parts.append(f)
    if kw.get("income_min") is not None or kw.get("income_max") is not None:
        f = rpc_pb2.Filter()
        f.income.SetInParent()
        if kw.get("income_min") is not None:
            f.income.min = _whole(kw["income_min"], "income_min")
        if kw.get("income_max") is not None:
            f.income.max = _whole(kw["income_max"], "income_max")
        parts.append(f)
    for key in ["interests", "interests_all", "interests_none", "gender", "country", "state", "city", "education"]:
        v = kw.get(key)
        if v is not None and (len(_list(v, key)) == 0 if not isinstance(v, str) else not v.strip()):
            # As the CLI's --gender '': an empty value is a mistake, not "no filter".
            raise ValueError(f"{key}: empty (pass None, or leave it out, for no filter)")
    for key, field in [("interests", "interests_any"), ("interests_all", "interests_all"),
                       ("interests_none", "interests_none")]:
        if kw.get(key) is not None:
            f = rpc_pb2.Filter()
            getattr(f, field).values.extend(_list(kw[key], key))
            parts.append(f)
    for key in ["gender", "country", "state", "city", "education"]:
        if kw.get(key) is not None:
            f = rpc_pb2.Filter()
            getattr(f, key).values.extend(_list(kw[key], key) if not isinstance(kw[key], str) else [kw[key]])
            parts.append(f)
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    f = rpc_pb2.Filter()
    f.all.filters.extend(parts)
    return f
