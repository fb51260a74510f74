"""A blocking client: one Unix socket, length-prefixed protobuf envelopes (docs/PROTOCOL.md)."""

import itertools
import os
import socket
import struct
import threading
import warnings

from ._proto import envelope_pb2, rpc_pb2
from .filters import build_filter
from .records import misplaced_fields, record_from_proto, record_to_proto

PROTOCOL_VERSION = 1


class AudienceError(Exception):
    """A request failed: the server's status code name (e.g. "NOT_FOUND") and message."""

    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def _code_name(number):
    try:
        return rpc_pb2.StatusCode.Name(number)
    except ValueError:
        return f"STATUS_{number}"


def _summary(p):
    return {"id": p.id, "cookies": list(p.cookies), "emails": list(p.emails), "records": p.records,
            "repeated_emails": list(p.repeated_emails), "first_seen": p.first_seen, "last_seen": p.last_seen}


def _counts(xs):
    return {x.name: x.count for x in xs}


def _text(name, value, required=False):
    """A string argument, checked before it reaches protobuf (which said "bad argument type for
    built-in operation", naming nothing)."""
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected a string, got {type(value).__name__} {value!r}")
    return value


def _count(name, value):
    """A whole number argument of 0 or more (protobuf said "Value out of range: -1")."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name}: expected a whole number of 0 or more, got {value!r}")
    return value


def _varint_len(n):
    length = 1
    while n >= 0x80:
        n >>= 7
        length += 1
    return length


# Room a request takes beside its records (frame length, id, timeout, stream, sequence, last).
_REQUEST_BYTES = 64


class Client:
    """Connects to audienced and checks the protocol version.

    socket_path defaults to $AUDIENCE_SOCKET, then ./audience.sock. One client may be shared by
    threads: its requests take turns on the connection (each call, each ingest, each page of
    iter_users), so none reads another's response.
    """

    def __init__(self, socket_path=None, timeout=60.0, client_name="audience-python"):
        path = socket_path or os.environ.get("AUDIENCE_SOCKET") or "./audience.sock"
        self._path = path
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        try:
            self._sock.connect(path)
        except OSError as e:
            self._sock.close()
            hint = ("the socket's mode or group does not let this user connect: see audienced --socket-mode and --socket-group"
                    if isinstance(e, PermissionError) else "is audienced running?")
            raise AudienceError("UNAVAILABLE", f"cannot connect to {path}: {e} ({hint})") from None
        self._lock = threading.RLock()
        self._closed = False
        self._closed_why = None
        self._next_id = 1
        self._awaited = set()  # ids of requests whose responses are kept when read for another
        self._kept = {}        # those responses, by id
        self._salvaged = {}    # responses read after the connection broke (`_lost`), by id
        self.server = self._call("hello", rpc_pb2.HelloRequest(protocol_version=PROTOCOL_VERSION, client_name=client_name))

    def close(self):
        self._closed = True
        self._sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- transport --------------------------------------------------------------------------

    def _broken(self):
        """Ctrl-C (or any exception) part way through a frame: the next bytes would be read or
        written out of step with the frames, so the connection is closed."""
        self._closed_why = "it was interrupted part way through a frame; make a new Client"
        self.close()

    def _recv_exactly(self, n, mid_frame=False):
        """n bytes; `mid_frame`: the frame's length was read already."""
        chunks = []
        while n:
            try:
                chunk = self._sock.recv(min(n, 1 << 20))
            except OSError as e:
                raise self._lost(e) from None
            except BaseException:
                if chunks or mid_frame:
                    self._broken()
                raise
            if not chunk:
                raise AudienceError("UNAVAILABLE", "connection closed by the server")
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def _send(self, method, body, timeout_ms=0):
        """Sends one request; returns its id."""
        if self._closed:
            raise AudienceError("UNAVAILABLE", f"the client is closed{'' if self._closed_why is None else ': ' + self._closed_why}")
        request_id = self._next_id
        self._next_id += 1
        req = envelope_pb2.Request(id=request_id, timeout_ms=timeout_ms)
        getattr(req, method).CopyFrom(body)
        payload = req.SerializeToString()
        try:
            self._sock.sendall(struct.pack(">I", len(payload)) + payload)
        except OSError as e:
            raise self._lost(e) from None
        except BaseException:
            self._broken()
            raise
        return request_id

    def _lost(self, error):
        """The connection broke: the server's last word if it said why before closing (its idle
        timeout, a frame past its limit), else UNAVAILABLE naming the socket error."""
        if isinstance(error, socket.timeout):
            return AudienceError("DEADLINE_EXCEEDED", f"no answer from the server within {self._sock.gettimeout()} s")
        if self._closed:
            return AudienceError("UNAVAILABLE", "the client is closed")
        data = b""
        try:
            self._sock.settimeout(0.5)
            while True:
                chunk = self._sock.recv(1 << 16)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass
        while len(data) >= 4:
            (length,) = struct.unpack(">I", data[:4])
            if len(data) < 4 + length:
                break
            try:
                resp = envelope_pb2.Response.FromString(data[4:4 + length])
            except Exception:
                break
            data = data[4 + length:]
            if resp.id == 0 and resp.status.code != 0:
                return AudienceError(_code_name(resp.status.code), resp.status.message)
            # Answers that came before the end (an ingest's acknowledgements): kept for the summary.
            self._salvaged[resp.id] = resp
        return AudienceError("UNAVAILABLE", f"connection lost: {error}")

    def _receive(self, wanted):
        """The next response whose id is in `wanted` (a status frame with id 0 is raised).
        Responses read meanwhile for a request still awaited (iter_users' next page) are kept
        for it; others (requests given up on) are dropped."""
        for request_id in wanted:
            if request_id in self._kept:
                return self._kept.pop(request_id)
        while True:
            (length,) = struct.unpack(">I", self._recv_exactly(4))
            payload = self._recv_exactly(length, mid_frame=True)
            try:
                resp = envelope_pb2.Response.FromString(payload)
            except Exception as e:  # protobuf's DecodeError: the stream is out of step
                raise AudienceError("INTERNAL", f"a response of {length} bytes is not a valid protobuf ({e})") from None
            if resp.id == 0 and resp.status.code != 0:
                raise AudienceError(_code_name(resp.status.code), resp.status.message)
            if resp.id in wanted:
                return resp
            if resp.id in self._awaited:
                self._kept[resp.id] = resp

    @staticmethod
    def _body(resp, method):
        if resp.HasField("status") and resp.status.code != 0:
            raise AudienceError(_code_name(resp.status.code), resp.status.message)
        return getattr(resp, method)

    def _call(self, method, body, timeout_ms=0):
        with self._lock:
            request_id = self._send(method, body, timeout_ms)
            return self._body(self._receive((request_id,)), method)

    # -- methods ----------------------------------------------------------------------------

    def ingest(self, records, batch_size=1000, window=0):
        """Stores records (dicts in the {"data": {...}} shape). Returns
        {"accepted", "rejected", "duplicates", "errors": [{"index", "message"}]}, errors in index order.

        A record that cannot be sent (not an object, a field of the wrong type, a NUL byte, too
        large for the server's frame limit) is rejected here, by its index, like one the server
        rejects; the others are sent. Batches hold at most `batch_size` records and fit the
        server's limits. More than one batch goes on an ingest stream: up to `window` batches in
        flight (0: the server's default, 32), each acknowledged once durable. If the server fails
        or goes away, AudienceError is raised and its `summary` attribute holds what was
        acknowledged before.

        "warnings": [{"index", "message"}], when present, names a known field where the record's
        shape does not read it (an age under location: its value is not stored; a Python
        warning says so too) and a link the identifier cap refused."""
        if isinstance(records, (dict, str, bytes)):
            # A dict was iterated by its keys ("data: must be an object").
            raise TypeError(f"records: expected a list (or any iterable) of records, got one {type(records).__name__}: "
                            "ingest([record])")
        summary = {"accepted": 0, "rejected": 0, "duplicates": 0, "errors": []}
        max_records = max(1, min(batch_size, self.server.max_records_per_batch or batch_size))
        max_bytes = (self.server.max_frame_bytes or (4 << 20)) - _REQUEST_BYTES

        def reject(index, message):
            summary["rejected"] += 1
            summary["errors"].append({"index": index, "message": message})

        def batches():
            """(indexes, records) of the records that can be sent, in batches that fit."""
            indexes, batch, size = [], [], 0
            records_read = iter(records)
            failure = None
            for index in itertools.count():
                # The input's own failure (or Ctrl-C while it is read) ends the batches after the
                # records read before it: they are sent, then the failure is raised.
                try:
                    record = next(records_read)
                except StopIteration:
                    break
                except BaseException as e:
                    failure = e
                    break
                try:
                    proto = record_to_proto(record)
                except ValueError as e:
                    reject(index, str(e))
                    continue
                for message in misplaced_fields(record):
                    summary.setdefault("warnings", []).append({"index": index, "message": message})
                n = proto.ByteSize()
                n += 1 + _varint_len(n)
                if n > max_bytes:
                    reject(index, f"the record takes {n} bytes encoded, more than the {max_bytes} a batch may hold "
                                  "(the server's frame limit)")
                    continue
                if batch and (len(batch) >= max_records or size + n > max_bytes):
                    yield indexes, batch
                    indexes, batch, size = [], [], 0
                indexes.append(index)
                batch.append(proto)
                size += n
            if batch:
                yield indexes, batch
            if failure is not None:
                raise failure

        def count(resp, indexes):
            summary["accepted"] += resp.accepted
            summary["rejected"] += resp.rejected
            summary["duplicates"] += resp.duplicates
            for r in resp.results:
                if r.outcome == rpc_pb2.INGEST_OUTCOME_REJECTED:
                    summary["errors"].append({"index": indexes[r.index], "message": _unplaced(r.message, r.index)})
                elif r.outcome == rpc_pb2.INGEST_OUTCOME_CAPPED:
                    summary.setdefault("warnings", []).append({"index": indexes[r.index], "message": _unplaced(r.message, r.index)})

        def done():
            summary["errors"].sort(key=lambda e: e["index"])
            if "warnings" in summary:
                summary["warnings"].sort(key=lambda w: w["index"])
                unread = [w for w in summary["warnings"] if "is not read" in w["message"]]
                if unread:
                    warnings.warn(f"{len(unread)} field(s) were not read (the first: record {unread[0]['index']}: "
                                  f"{unread[0]['message']}); see the summary's \"warnings\"", stacklevel=4)
            return summary

        with self._lock:
            return self._ingest(batches(), count, done, window)

    def _ingest(self, pending_batches, count, done, window):
        pending = {}  # request id -> the indexes of its records

        def salvage():
            """The acknowledgements read after the connection broke (`_lost`), in order: they
            were durable, and were dropped from the summary (12,000 records stored, 0 counted)."""
            for rid in sorted(pending):
                resp = self._salvaged.pop(rid, None)
                if resp is None or (resp.HasField("status") and resp.status.code != 0):
                    break
                count(resp.ingest, pending.pop(rid))

        def plain(batch):
            count(self._call("ingest", rpc_pb2.IngestRequest(records=batch[1])), batch[0])

        def with_summary(e):
            """`e` (the input's failure, or the server's) with what was stored."""
            try:
                e.summary = done()
            except AttributeError:  # an exception that takes no attributes
                pass

        try:
            first = next(pending_batches, None)
            try:
                second = next(pending_batches, None)
            except BaseException as e:
                # The input failed after one batch: it goes as a plain Ingest, then the failure.
                if first:
                    try:
                        plain(first)
                    except AudienceError:
                        pass
                with_summary(e)
                raise
            if second is None:  # one batch: a plain Ingest request
                if first:
                    plain(first)
                return done()
            stream = self._next_id
            granted = max(1, self._call("ingest_stream", rpc_pb2.IngestStreamRequest(window=window)).window)
            sequence = 0

            def wait_one():
                resp = self._receive(pending)
                count(self._body(resp, "ingest"), pending.pop(resp.id))

            def send(batch, last):
                nonlocal sequence
                while len(pending) >= granted:
                    wait_one()
                indexes, protos = batch
                rid = self._send("ingest_batch", rpc_pb2.IngestBatch(stream=stream, sequence=sequence, records=protos,
                                                                     last=last))
                pending[rid] = indexes
                sequence += 1

            batch = first
            try:
                for following in itertools.chain([second], pending_batches):
                    send(batch, False)
                    batch = following
            except AudienceError:
                raise
            except BaseException as e:
                # The input failed (or Ctrl-C): the batch read before it is sent as the last,
                # and what was sent is waited for, so the server closes the stream; left open,
                # four such streams refused every later ingest on this connection. The error
                # goes on, with what was stored. (Interrupted part way through a frame, the
                # connection is closed instead: `_broken`.)
                if not self._closed:
                    try:
                        send(batch, True)
                        while pending:
                            wait_one()
                    except AudienceError:
                        salvage()
                with_summary(e)
                raise
            send(batch, True)
            while pending:
                wait_one()
            return done()
        except AudienceError as e:
            salvage()
            with_summary(e)
            raise

    def get_user(self, cookie):
        """{"data": {...}, "profile": {...}}; AudienceError NOT_FOUND for an unknown cookie."""
        resp = self._call("get_user", rpc_pb2.GetUserRequest(cookie=_text("cookie", cookie, required=True)))
        out = record_from_proto(resp.data)
        out["profile"] = _summary(resp.profile)
        return out

    @staticmethod
    def _cohort_request(cookie, limit, cursor, count_only, where, filters):
        req = rpc_pb2.QueryCohortRequest(cookie=_text("cookie", cookie), limit=_count("limit", limit),
                                         cursor=_text("cursor", cursor), count_only=count_only, where=_text("where", where))
        f = build_filter(**filters)
        if f is not None:
            req.filter.CopyFrom(f)
        return req

    def query_cohort(self, cookie=None, limit=100, cursor=None, count_only=False, where=None, **filters):
        """One page: {"total", "users": [{"data": {...}}], "next_cursor"}.

        `where` is a filter expression (docs/QUERY.md), e.g. "age:20..30 and interest:Gaming",
        parsed by the server; it combines with the keyword filters by and."""
        resp = self._call("query_cohort", self._cohort_request(cookie, limit, cursor, count_only, where, filters))
        return {
            "total": resp.total,
            "users": [record_from_proto(u) for u in resp.users],
            "next_cursor": resp.next_cursor or None,
        }

    def iter_users(self, cookie=None, page_size=10000, where=None, **filters):
        """Every matching user ({"data": {...}}), page after page. Each next page is asked for
        as soon as a page arrives, so the server prepares it while this one is read; other
        calls on this client may be made meanwhile."""
        req = self._cohort_request(cookie, page_size, None, False, where, filters)
        with self._lock:
            request_id = self._send("query_cohort", req)
            self._awaited.add(request_id)
        try:
            while request_id is not None:
                with self._lock:
                    resp = self._receive((request_id,))
                    self._awaited.discard(request_id)
                    resp = self._body(resp, "query_cohort")
                    request_id = None
                    if resp.next_cursor:
                        req.cursor = resp.next_cursor
                        request_id = self._send("query_cohort", req)
                        self._awaited.add(request_id)
                for u in resp.users:
                    yield record_from_proto(u)
        finally:
            if request_id is not None:  # given up on: its response is dropped when it comes
                with self._lock:
                    self._awaited.discard(request_id)
                    self._kept.pop(request_id, None)

    def analyze(self, cookie=None, top_n=20, age_bins=20, k=3, kmeans_features=("age",), no_kmeans=False, where=None,
                **filters):
        """The notebook's figures, shaped as `audience analyze --json`."""
        req = rpc_pb2.AnalyzeRequest(cookie=_text("cookie", cookie), top_n=_count("top_n", top_n),
                                     age_bins=_count("age_bins", age_bins), k=_count("k", k), no_kmeans=no_kmeans,
                                     where=_text("where", where))
        # One feature may be given as a string ("age" was read as the features "a", "g", "e").
        req.kmeans_features.extend([kmeans_features] if isinstance(kmeans_features, str) else kmeans_features)
        f = build_filter(**filters)
        if f is not None:
            req.filter.CopyFrom(f)
        r = self._call("analyze", req)
        out = {
            "total": r.total,
            "countries": _counts(r.countries),
            "states": _counts(r.states),
            "cities": _counts(r.cities),
            "genders": _counts(r.genders),
            "education": _counts(r.education),
            "income_bands": _counts(r.income_bands),
            "interests": _counts(r.interests),
            "categories": _counts(r.categories),
            "with_age": r.with_age,
            "age_histogram": [{"from": b.__getattribute__("from"), "to": b.to, "count": b.count} for b in r.age_histogram],
            "kmeans": None,
        }
        if r.HasField("kmeans"):
            km = r.kmeans
            one = len(km.features) == 1
            out["kmeans"] = {
                "k": len(km.centroids),
                "features": list(km.features),
                "centroids": [c.values[0] if one else list(c.values) for c in km.centroids],
                "sizes": list(km.sizes),
                "inertia": km.inertia,
                "age_clusters": [{"age": a.age, "cluster": a.cluster, "count": a.count} for a in km.age_clusters],
            }
        return out

    def watch(self, where=None, **filters):
        """A live segment, as a generator of events (dicts shaped as `audience watch --json`):
        {"event": "started", "total"}, then {"event": "enter" | "leave", "profile_id", "data",
        "merged_into"} or {"event": "forgotten", "profile_id"} as records change the segment,
        until the generator is closed, or {"event": "ended"} when the server ends the watch (it
        is shutting down; the generator then stops).

        The watch runs on a connection of its own, so this client stays usable meanwhile;
        closing the generator closes that connection, which ends the watch on the server."""
        stream = Client(self._path, timeout=None, client_name="audience-python-watch")
        try:
            request_id = stream._next_id
            stream._next_id += 1
            body = rpc_pb2.WatchRequest(where=_text("where", where))
            f = build_filter(**filters)
            if f is not None:
                body.filter.CopyFrom(f)
            req = envelope_pb2.Request(id=request_id)
            req.watch.CopyFrom(body)
            payload = req.SerializeToString()
            stream._sock.sendall(struct.pack(">I", len(payload)) + payload)
            while True:
                (length,) = struct.unpack(">I", stream._recv_exactly(4))
                resp = envelope_pb2.Response.FromString(stream._recv_exactly(length))
                if resp.id != request_id and not (resp.id == 0 and resp.status.code != 0):
                    continue
                if resp.HasField("status") and resp.status.code != 0:
                    raise AudienceError(_code_name(resp.status.code), resp.status.message)
                e = resp.watch
                if e.kind == rpc_pb2.WATCH_EVENT_KIND_STARTED:
                    yield {"event": "started", "total": e.total}
                elif e.kind == rpc_pb2.WATCH_EVENT_KIND_ENDED:
                    # The server ended it (shutdown): said, as the CLI prints it, then the end.
                    yield {"event": "ended"}
                    return
                elif e.kind == rpc_pb2.WATCH_EVENT_KIND_FORGOTTEN:
                    yield {"event": "forgotten", "profile_id": e.profile_id}
                else:
                    enter = e.kind == rpc_pb2.WATCH_EVENT_KIND_ENTER
                    has_data = e.HasField("data")
                    yield {
                        "event": "enter" if enter else "leave",
                        "profile_id": e.profile_id,
                        "data": record_from_proto(e.data)["data"] if has_data else None,
                        "merged_into": None if enter or has_data else e.merged_into,
                    }
        finally:
            stream.close()

    def _person(self, cookie, email):
        if (cookie is None) == (email is None):
            raise TypeError("give cookie= or email= (one of them)")
        return rpc_pb2.PersonRef(cookie=_text("cookie", cookie), email=_text("email", email))

    def forget(self, cookie=None, email=None):
        """Erases the person behind a cookie or an email (every record of their profile);
        returns what was erased: {"id", "cookies", "emails", "records", ...}."""
        r = self._call("forget", rpc_pb2.ForgetRequest(person=self._person(cookie, email)))
        return _summary(r.profile)

    def export(self, cookie=None, email=None):
        """Everything held about a person: {"data", "profile", "records": [{"data": {...}}, ...]}."""
        r = self._call("export", rpc_pb2.ExportRequest(person=self._person(cookie, email)))
        out = record_from_proto(r.data)
        out["profile"] = _summary(r.profile)
        out["records"] = [record_from_proto(x) for x in r.records]
        return out

    def history(self, cookie=None, email=None):
        """How a person's profile came to be: {"profile", "entries": [{"data": {...}, "change"}, ...]}."""
        r = self._call("history", rpc_pb2.HistoryRequest(person=self._person(cookie, email)))
        return {"profile": _summary(r.profile),
                "entries": [dict(record_from_proto(e.record), change=e.change) for e in r.entries]}

    def split(self, cookie):
        """Detaches a wrongly merged cookie into a profile of its own (durably: its records no
        longer link their emails); returns the profiles its old profile became, its own first."""
        r = self._call("split", rpc_pb2.SplitRequest(cookie=_text("cookie", cookie, required=True)))
        return [_summary(p) for p in r.profiles]

    def health(self):
        h = self._call("health", rpc_pb2.HealthRequest())
        return {
            "status": h.status, "server_version": h.server_version,
            "protocol_version": self.server.protocol_version, "store": h.store, "profiles": h.profiles,
            "records": h.records, "repeated_emails": h.repeated_emails, "uptime_seconds": h.uptime_seconds,
            "connections": h.connections,
        }


def _unplaced(message, position):
    """The server's message without its "record N: " (N is the place in the batch, which the
    summary's index replaces with the place in the whole input)."""
    prefix = f"record {position}: "
    return message[len(prefix):] if message.startswith(prefix) else message
