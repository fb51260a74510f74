"""Records in the original specification's {"data": {...}} shape <-> audience.v1.Record."""

import math
import numbers

from ._proto import records_pb2


def _missing(value):
    """None, or a gap as pandas and numpy write one (NaN, pd.NA, pd.NaT): the field is absent."""
    if value is None:
        return True
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        try:
            if math.isnan(float(value)):  # float('nan'), numpy.float64/float32/float16('nan')
                return True
        except (TypeError, ValueError, OverflowError):
            return False
    name = type(value).__name__
    if name in ("NAType", "NaTType"):  # pd.NA, pd.NaT
        return True
    return name in ("datetime64", "timedelta64") and str(value) == "NaT"  # numpy's NaT


def _text(value, field):
    if _missing(value):
        return ""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        raise ValueError(f"{field}: must be a string")
    if isinstance(value, numbers.Integral):  # int, numpy.int64
        return str(int(value))
    if isinstance(value, numbers.Real):  # float, numpy.float32
        return str(int(value)) if float(value).is_integer() else str(float(value))
    if isinstance(value, str):
        # The server reads strings as C strings: one with a NUL byte would arrive cut short.
        if "\0" in value:
            raise ValueError(f"{field}: contains a NUL byte, which the protocol cannot carry")
        return value
    raise ValueError(f"{field}: must be a string")


_LOCATION = ("state", "country", "city")
_DEMOGRAPHICS = ("age", "gender", "income", "education")


def _shaped(record):
    """The record as {"cookie", ..., "location": {...}, "demographics": {...}}, from the original
    shape ({"data": {...}} or the bare object), or from a flat row as pandas makes one: dotted
    names ("data.location.city", "location.city", as json_normalize writes them) or plain ones
    ("city", "age", as the CLI's CSV reader takes them) - `df.to_dict("records")` lost every field
    but cookie and email. A nested value wins over a flat one for the same field."""
    data = record.get("data") if isinstance(record, dict) else None
    d = data if isinstance(data, dict) else record
    if not isinstance(d, dict):
        raise ValueError("data: must be an object")
    top = dict(d)
    loc = dict(_object(d.get("location"), "data.location"))
    dem = dict(_object(d.get("demographics"), "data.demographics"))
    for source in ([record] if d is record else [record, d]):
        for key, value in source.items():
            if not isinstance(key, str) or _is_gap(value):
                continue
            name = key[5:] if key.startswith("data.") else key
            group, _, field = name.rpartition(".")
            if group == "location" and field in _LOCATION:
                target = loc
            elif group == "demographics" and field in _DEMOGRAPHICS:
                target = dem
            elif group == "" and source is d and field in _LOCATION:
                target = loc
            elif group == "" and source is d and field in _DEMOGRAPHICS:
                target = dem
            elif group == "" and key.startswith("data."):
                target = top
            else:
                continue
            if _is_gap(target.get(field)):
                target[field] = value
    top["location"] = loc
    top["demographics"] = dem
    return top


_RECORD = ("cookie", "email", "phone_number", "created_at", "interests")


def misplaced_fields(record):
    """Known fields where the record's shape does not read them, as the CLI names them: each is
    ignored, so its value would be lost without a word ("data.location.age is not read: it goes
    in data.demographics.age"). Flat names that `_shaped` reads (city, location.city) are not."""
    if not isinstance(record, dict):
        return []
    data = record.get("data")
    wrapped = isinstance(data, dict)
    d = data if wrapped else record
    prefix = "data." if wrapped else ""
    out = []

    def home(field):
        if field in _LOCATION:
            return f"{prefix}location.{field}"
        if field in _DEMOGRAPHICS:
            return f"{prefix}demographics.{field}"
        return f"{prefix}{field}"

    # A gap (None, NaN: a DataFrame's column that only some rows fill) holds nothing to lose.
    if wrapped:
        for key, value in record.items():
            if key != "data" and isinstance(key, str) and not _is_gap(value) and (
                    key in _RECORD or key in _LOCATION or key in _DEMOGRAPHICS or key in ("location", "demographics")):
                out.append(f"{key} is beside data, not in it: it is not read")
    for group, keys in (("location", _LOCATION), ("demographics", _DEMOGRAPHICS)):
        members = d.get(group)
        if isinstance(members, dict):
            for key, value in members.items():
                if isinstance(key, str) and key not in keys and not _is_gap(value) and (
                        key in _LOCATION or key in _DEMOGRAPHICS or key in _RECORD):
                    out.append(f"{prefix}{group}.{key} is not read: it goes in {home(key)}")
    # Dotted names of a flat row with a field under the wrong group (location.age).
    for source in ([record] if d is record else [record, d]):
        for key, value in source.items():
            if not isinstance(key, str) or "." not in key or _is_gap(value):
                continue
            group, _, field = (key[5:] if key.startswith("data.") else key).rpartition(".")
            if group in ("location", "demographics") and field not in (_LOCATION if group == "location" else _DEMOGRAPHICS) \
                    and (field in _LOCATION or field in _DEMOGRAPHICS or field in _RECORD):
                out.append(f"{key} is not read: it goes in {home(field)}")
    # Keys are matched exactly: "Email" is not "email" (the CLI says the same).
    known = set(_RECORD) | set(_LOCATION) | set(_DEMOGRAPHICS) | {"location", "demographics", "data"}

    def lower_is_read(key):
        name = key[5:] if key.startswith("data.") else key
        group, _, field = name.rpartition(".")
        if group == "":
            return field in known
        return (group == "location" and field in _LOCATION) or (group == "demographics" and field in _DEMOGRAPHICS)

    def case_variants(members, path):
        for key, value in members.items():
            if isinstance(key, str) and key != key.lower() and not _is_gap(value) and lower_is_read(key.lower()):
                out.append(f"{path}{key} is not read: keys are lower case ({key.lower()})")

    for source in ([record] if d is record else [record, d]):
        case_variants(source, "" if source is record else prefix)
    for group in ("location", "demographics"):
        if isinstance(d.get(group), dict):
            case_variants(d[group], f"{prefix}{group}.")
    return out


def _is_gap(value):
    try:
        return _missing(value)
    except (TypeError, ValueError):
        return False


def record_to_proto(record):
    """A dict ({"data": {...}}, the bare object, or a flat row: `_shaped`) as an audience.v1.Record."""
    d = _shaped(record)
    r = records_pb2.Record(
        cookie=_text(d.get("cookie"), "data.cookie"),
        email=_text(d.get("email"), "data.email"),
        phone_number=_text(d.get("phone_number"), "data.phone_number"),
        created_at=_text(d.get("created_at"), "data.created_at"),
    )
    loc = d["location"]
    r.location.state = _text(loc.get("state"), "data.location.state")
    r.location.country = _text(loc.get("country"), "data.location.country")
    r.location.city = _text(loc.get("city"), "data.location.city")
    dem = d["demographics"]
    age = dem.get("age")
    if not _missing(age) and age != "":
        try:
            if isinstance(age, bool):
                whole = None
            elif isinstance(age, numbers.Integral):
                whole = int(age)
            elif isinstance(age, numbers.Real):
                whole = int(age) if float(age).is_integer() else None
            elif isinstance(age, str) and age.strip() and all(c in "0123456789+-.eE" for c in age.strip()):
                # "25" or "25.0" (pandas writes ages so when the column has gaps), as the server reads them.
                f = float(age)
                whole = int(f) if f.is_integer() else None
            else:
                whole = int(age)
        except (TypeError, ValueError, OverflowError):
            whole = None
        if whole is None:
            raise ValueError(f'data.demographics.age: "{age}" is not a whole number')
        if not -(1 << 31) <= whole < (1 << 31):
            raise ValueError(f"data.demographics.age: {whole} is outside 0...130")
        r.demographics.age = whole
    r.demographics.gender = _text(dem.get("gender"), "data.demographics.gender")
    r.demographics.income = _text(dem.get("income"), "data.demographics.income")
    r.demographics.education = _text(dem.get("education"), "data.demographics.education")
    interests = d.get("interests")
    if _missing(interests):
        interests = []
    elif isinstance(interests, str):
        interests = interest_list(interests)
    elif isinstance(interests, dict) or not hasattr(interests, "__iter__"):
        raise ValueError("data.interests: must be a list of strings (or one string separated by ; or |)")
    # A list, a tuple, a numpy array or a pandas Series; gaps in it are dropped.
    r.interests.extend(_text(x, "data.interests") for x in interests if not _missing(x))
    return r


def _split_list(s):
    return [x for x in s.replace("|", ";").split(";") if x.strip()]


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"'}


def interest_list(s):
    """Interests written as one string, read as the CLI reads them (RecordJSON.interestList):
    `Tech;Gaming`, `Tech|Gaming`, or a list as Python writes one, `['Tech', 'Rock & Roll']`
    (what pandas' read_csv then to_json writes), with Python's escapes; brackets around items
    without quotes hold a plain list."""
    t = s.strip()
    if not (len(t) >= 2 and t[0] == "[" and t[-1] == "]"):
        return _split_list(t)
    inner = t[1:-1]
    if "'" not in inner and '"' not in inner:
        if ";" in inner or "|" in inner:
            return _split_list(inner)
        return [x for x in inner.split(",") if x.strip()]
    items, current, quote, i = [], "", None, 0
    while i < len(inner):
        c = inner[i]
        i += 1
        if quote is not None:
            if c == quote:
                quote = None
            elif c == "\\" and i < len(inner):
                e = inner[i]
                i += 1
                width = {"x": 2, "u": 4, "U": 8}.get(e)
                if width is None:
                    current += _ESCAPES.get(e, "\\" + e)
                    continue
                digits = inner[i:i + width]
                i += len(digits)
                try:
                    current += chr(int(digits, 16))
                except ValueError:
                    current += "\\" + e + digits
            else:
                current += c
        elif c in "'\"":
            quote = c
        elif c == ",":
            items.append(current.strip())
            current = ""
        else:
            current += c
    items.append(current.strip())
    return [x for x in items if x]


def _object(value, field):
    if _missing(value):
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{field}: must be an object")
    return value


def record_from_proto(r):
    """An audience.v1.Record as {"data": {...}}, every field present (None when unknown)."""

    def opt(s):
        return s if s else None

    return {
        "data": {
            "cookie": r.cookie,
            "email": opt(r.email),
            "phone_number": opt(r.phone_number),
            "created_at": opt(r.created_at),
            "location": {
                "state": opt(r.location.state),
                "country": opt(r.location.country),
                "city": opt(r.location.city),
            },
            "demographics": {
                "age": r.demographics.age if r.demographics.HasField("age") else None,
                "gender": opt(r.demographics.gender),
                "income": opt(r.demographics.income),
                "education": opt(r.demographics.education),
            },
            "interests": list(r.interests),
        }
    }
