import os
import pathlib
import time

import pytest

from audience_client import AudienceError, Client

from .conftest import BIN_DIR, audienced

SEED = {"data": {"cookie": "user_cookie_id", "email": "User@Example.com", "phone_number": "1234567890",
                 "created_at": "03/10/2025 15:30",
                 "location": {"state": "California", "country": "USA", "city": "Los Angeles"},
                 "demographics": {"age": 25, "gender": "Male", "income": "50000", "education": "Bachelor's"},
                 "interests": ["Tech", "Gaming"]}}


def test_ingest_get_user_and_cohort(server):
    with Client(server) as c:
        assert c.server.protocol_version == 1
        s = c.ingest([SEED, {"cookie": "laptop", "email": "user@example.com", "created_at": "2025-03-12T09:00:00",
                             "interests": ["gaming", "AI"]}])
        assert s == {"accepted": 2, "rejected": 0, "duplicates": 0, "errors": []}
        assert c.ingest([SEED])["duplicates"] == 1
        u = c.get_user("laptop")
        assert u["data"]["cookie"] == "laptop"
        assert u["data"]["email"] == "user@example.com"
        assert u["data"]["created_at"] == "2025-03-12T09:00:00"
        assert u["data"]["interests"] == ["Tech", "Gaming", "AI"]
        assert u["profile"]["cookies"] == ["user_cookie_id", "laptop"]
        assert u["profile"]["repeated_emails"] == ["user@example.com"]
        page = c.query_cohort(cookie="user_cookie_id", age_min=20, age_max=30, interests="Gaming")
        assert page["total"] == 1 and page["users"][0]["data"]["cookie"] == "user_cookie_id"
        assert c.query_cohort(country="usa", count_only=True)["total"] == 1
        assert c.health()["profiles"] == 1
        assert c.health()["protocol_version"] == 1  # as `audience health --json`


def test_errors_carry_code_and_field(server):
    with Client(server) as c:
        with pytest.raises(AudienceError) as e:
            c.get_user("nobody")
        assert e.value.code == "NOT_FOUND"
        s = c.ingest([{"cookie": "x", "demographics": {"age": 200}}, {"cookie": ""}])
        assert s["rejected"] == 2
        assert "data.demographics.age" in s["errors"][0]["message"]
        assert "data.cookie" in s["errors"][1]["message"]
        with pytest.raises(AudienceError) as e:
            c.query_cohort(limit=20000)
        assert e.value.code == "INVALID_ARGUMENT"
        # A NUL byte would reach the server's C strings cut short ("ab\0cd" -> "ab"): the record is
        # rejected by its index before it is sent, and the others are stored.
        s = c.ingest([{"cookie": "ab\0cd"}, {"cookie": "after-nul"}])
        assert s["accepted"] == 1 and s["rejected"] == 1
        assert s["errors"] == [{"index": 0, "message": "data.cookie: contains a NUL byte, which the protocol cannot carry"}]
        with pytest.raises(AudienceError):
            c.get_user("ab")
        assert c.get_user("after-nul")["data"]["cookie"] == "after-nul"


def test_records_the_client_cannot_send_are_rejected_by_index_and_the_stream_goes_on(server):
    # On a stream (several batches): bad records used to raise ValueError part way, leaving the
    # stream open; four such failures used up the connection's ingest streams.
    with Client(server) as c:
        for attempt in range(6):
            records = [{"cookie": f"bad{attempt}-{i}"} for i in range(10)]
            records[3] = {"cookie": "a\0b"}
            records[7] = {"cookie": "x", "demographics": {"age": "x"}}
            records.append({"cookie": "y", "demographics": {"age": 2 ** 40}})
            s = c.ingest(records, batch_size=2)
            assert (s["accepted"], s["rejected"]) == (8, 3)
            assert [e["index"] for e in s["errors"]] == [3, 7, 10]
            assert s["errors"][2]["message"] == "data.demographics.age: 1099511627776 is outside 0...130"
        assert c.health()["records"] == 48


def test_an_input_that_fails_part_way_finishes_its_stream(server):
    # The records' iterable raising (or Ctrl-C) left the stream open: after four, every ingest of
    # more than one batch on the connection was refused (RESOURCE_EXHAUSTED).
    def failing(attempt):
        for i in range(2_500):
            yield {"cookie": f"f{attempt}-{i}"}
        raise RuntimeError("the input broke")

    with Client(server) as c:
        for attempt in range(6):
            with pytest.raises(RuntimeError, match="the input broke") as e:
                c.ingest(failing(attempt), batch_size=500)
            # Every record read before the failure was sent and waited for, and is counted (the
            # batch being filled was lost).
            assert e.value.summary["accepted"] == 2_500, e.value.summary
        s = c.ingest([{"cookie": f"after-{i}"} for i in range(5_000)], batch_size=500)
        assert s["accepted"] == 5_000
        # Failing before a second batch: the records read go as one plain Ingest (nothing was sent).
        with pytest.raises(RuntimeError, match="the input broke") as e:
            c.ingest(failing(9), batch_size=5_000)
        assert e.value.summary["accepted"] == 2_500, e.value.summary
        assert c.health()["records"] == 7 * 2_500 + 5_000


def test_a_client_shared_by_threads_gets_its_own_answers(server):
    # Threads sharing a client read each other's responses: a false DEADLINE_EXCEEDED, or a
    # frame read in pieces by two threads (protobuf's DecodeError).
    import threading
    with Client(server, timeout=10) as c:
        c.ingest([{"cookie": f"t{i}", "demographics": {"age": 20 + i}} for i in range(6)])
        failures = []

        def work(n):
            try:
                for _ in range(40):
                    assert c.get_user(f"t{n}")["data"]["demographics"]["age"] == 20 + n
                    assert c.query_cohort(count_only=True, age_min=20 + n, age_max=20 + n)["total"] == 1
                    assert sum(1 for _ in c.iter_users(page_size=2)) == 6
            except Exception as e:  # noqa: BLE001 (reported below)
                failures.append(repr(e))

        threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert failures == []


def test_arguments_of_the_wrong_kind_are_named(server):
    # They reached protobuf, which said "bad argument type for built-in operation" or "Value out
    # of range: -1", naming nothing; np.nan said "'float' object is not iterable", None in a
    # list was sent as "None", "age" as features was "a", "g", "e".
    with Client(server) as c:
        c.ingest([{"cookie": "w1", "demographics": {"age": 30}}])
        for call, kind, message in [
            (lambda: c.get_user(5), TypeError, "cookie: expected a string, got int 5"),
            (lambda: c.query_cohort(where=5), TypeError, "where: expected a string"),
            (lambda: c.query_cohort(cursor=5), TypeError, "cursor: expected a string"),
            (lambda: c.query_cohort(limit=-1), ValueError, "limit: expected a whole number of 0 or more, got -1"),
            (lambda: c.analyze(age_bins=-1), ValueError, "age_bins: expected a whole number"),
            (lambda: c.query_cohort(country=float("nan")), ValueError, "country: nan is not a value"),
            (lambda: c.query_cohort(country=["USA", None]), ValueError, "country: \\['USA', None\\] holds an empty or missing"),
            (lambda: c.query_cohort(interests_all=["Gaming", ""]), ValueError, "interests_all: .* holds an empty"),
            (lambda: c.ingest({"data": {"cookie": "x"}}), TypeError, "records: expected a list .* ingest\\(\\[record\\]\\)"),
        ]:
            with pytest.raises(kind, match=message):
                call()
        assert c.analyze(kmeans_features="age", k=1)["kmeans"]["features"] == ["age"]


def test_a_server_stopped_mid_ingest_leaves_a_summary_of_what_it_stored(tmp_path):
    # The acknowledgements still unread when the connection broke were dropped: 12,000 records
    # stored, 0 counted. Counted now, the summary is what the restarted server holds.
    import signal
    import subprocess
    import threading
    binary = str(pathlib.Path(BIN_DIR) / "audienced")
    sock, data = str(tmp_path / "s.sock"), str(tmp_path / "data")
    records = [{"cookie": f"m{i}", "email": f"m{i}@x.com", "demographics": {"age": i % 90}} for i in range(150_000)]

    def start():
        p = subprocess.Popen([binary, "--socket", sock, "--data-dir", data, "--exit-with-parent"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(500):
            if os.path.exists(sock):
                try:
                    Client(sock).close()
                    return p
                except AudienceError:
                    pass
            time.sleep(0.02)
        raise AssertionError("audienced did not start")

    p = start()
    with Client(sock) as c:
        stored_at_start = c.health()["records"]
        threading.Timer(0.4, lambda: p.send_signal(signal.SIGTERM)).start()
        try:
            summary = c.ingest(records, batch_size=500)
        except AudienceError as e:
            summary = e.summary
    p.wait(timeout=30)
    p = start()
    try:
        with Client(sock) as c:
            assert summary["accepted"] == c.health()["records"] - stored_at_start, summary
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=30)


def test_a_closed_client_says_so():
    with audienced() as sock:
        c = Client(sock)
        c.close()
        for call in (c.health, lambda: c.ingest([{"cookie": "x"}]), lambda: c.query_cohort(count_only=True)):
            with pytest.raises(AudienceError, match="UNAVAILABLE: the client is closed"):
                call()


def test_batches_fit_the_frame_limit_and_a_larger_record_is_rejected():
    with audienced("--max-frame-bytes", "65536") as sock, Client(sock) as c:
        wide = "x" * 1000
        records = [{"cookie": f"w{i}", "location": {"city": wide, "state": wide, "country": wide}} for i in range(300)]
        records.insert(100, {"cookie": "huge", "interests": ["y" * 1000] * 100})
        s = c.ingest(records)
        assert (s["accepted"], s["rejected"]) == (300, 1)
        assert s["errors"][0]["index"] == 100 and "frame limit" in s["errors"][0]["message"]


def test_a_connection_the_server_closed_says_why():
    with audienced("--idle-timeout", "1") as sock, Client(sock) as c:
        time.sleep(2.5)
        with pytest.raises(AudienceError) as e:
            c.get_user("anyone")
        assert e.value.code == "UNAVAILABLE" and "idle" in e.value.message, e.value


PEOPLE = [
    {"cookie": "p1", "email": "p1@x.com", "location": {"country": "USA"}, "demographics": {"age": 25, "income": "40000"},
     "interests": ["Gaming"]},
    {"cookie": "p2", "email": "p2@x.com", "location": {"country": "Canada"}, "demographics": {"age": 28, "income": "60000"},
     "interests": ["AI"]},
    {"cookie": "p3", "email": "p3@x.com", "location": {"country": "Canada"}, "demographics": {"age": 45, "income": "High"},
     "interests": ["Crypto"]},
]


def test_where_expressions(server):
    with Client(server) as c:
        c.ingest(PEOPLE)
        page = c.query_cohort(where="age:20..30 and (interest:gaming or interest:ai) and not country:usa")
        assert [u["data"]["cookie"] for u in page["users"]] == ["p2"]
        assert c.query_cohort(where="income:high or category:finance", count_only=True)["total"] == 1
        assert c.query_cohort(where="age:20..", country="canada", count_only=True)["total"] == 2
        assert [u["data"]["cookie"] for u in c.iter_users(where="country:canada", page_size=1)] == ["p2", "p3"]
        # Left after its first user, with the next page already asked for: the connection
        # goes on (that page's response is skipped).
        users = c.iter_users(page_size=1)
        assert next(users)["data"]["cookie"] == "p1"
        users.close()
        assert [u["data"]["cookie"] for u in c.iter_users(page_size=2)] == ["p1", "p2", "p3"]
        # Other calls while iterating: the next page's response, read by them, is kept for it.
        seen = []
        for u in c.iter_users(page_size=1):
            seen.append(c.get_user(u["data"]["cookie"])["data"]["cookie"])
        assert seen == ["p1", "p2", "p3"]
        assert c.analyze(where="country:canada")["total"] == 2
        with pytest.raises(AudienceError) as e:
            c.query_cohort(where="age:20..30 and (")
        assert e.value.code == "INVALID_ARGUMENT"
        assert "column 17" in e.value.message and "expected a predicate" in e.value.message


def test_watch_streams_enter_and_leave(server):
    with Client(server) as c:
        c.ingest(PEOPLE)
        events = c.watch(where="country:canada")
        assert next(events) == {"event": "started", "total": 2}
        c.ingest([{"cookie": "p4", "email": "p4@x.com", "location": {"country": "Canada"}}])
        e = next(events)
        assert e["event"] == "enter" and e["data"]["cookie"] == "p4" and e["merged_into"] is None
        c.ingest([{"cookie": "p2", "created_at": "2030-01-01T00:00:00", "location": {"country": "Mexico"}}])
        e = next(events)
        assert e["event"] == "leave" and e["data"]["location"]["country"] == "Mexico"
        events.close()
        assert c.health()["profiles"] == 4  # the client is still usable


def test_a_watch_the_server_ends_says_ended(tmp_path):
    # At shutdown the server ends each watch: the generator yields {"event": "ended"} (the docs
    # list it; the generator stopped without it, as if the segment had simply run out).
    import os
    import signal
    import subprocess
    import time

    from .conftest import BIN_DIR
    sock = str(tmp_path / "s.sock")
    p = subprocess.Popen([str(BIN_DIR / "audienced"), "--socket", sock, "--data-dir", str(tmp_path / "data"),
                          "--exit-with-parent"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(500):
            if os.path.exists(sock):
                break
            time.sleep(0.02)
        with Client(sock) as c:
            events = c.watch(where="country:canada")
            assert next(events) == {"event": "started", "total": 0}
            p.send_signal(signal.SIGTERM)
            assert next(events) == {"event": "ended"}
            with pytest.raises(StopIteration):
                next(events)
        assert p.wait(timeout=30) == 0
    finally:
        if p.poll() is None:
            p.kill()


def test_forget_and_export(server):
    with Client(server) as c:
        c.ingest(PEOPLE + [{"cookie": "p1b", "email": "P1@x.com", "created_at": "2030-01-01T00:00:00"}])
        h = c.history(cookie="p1b")
        assert [e["change"] for e in h["entries"]] == ["new profile: cookie p1, email p1@x.com", "added cookie p1b"]
        x = c.export(email="p1@x.com")
        assert x["profile"]["cookies"] == ["p1", "p1b"] and len(x["records"]) == 2
        erased = c.forget(cookie="p1b")
        assert erased["records"] == 2 and erased["emails"] == ["p1@x.com"]
        with pytest.raises(AudienceError) as e:
            c.get_user("p1")
        assert e.value.code == "NOT_FOUND"
        assert c.health()["records"] == 2
        with pytest.raises(TypeError):
            c.forget()


def test_bulk_ingest_goes_on_a_stream_and_reports_errors_by_index(server):
    records = [{"cookie": f"bulk{i}", "email": f"b{i}@x.com", "demographics": {"age": i % 90}} for i in range(2500)]
    records[7]["demographics"]["age"] = 200
    records[1234]["cookie"] = ""
    with Client(server) as c:
        s = c.ingest(records, batch_size=300, window=2)
        assert (s["accepted"], s["rejected"], s["duplicates"]) == (2498, 2, 0)
        assert [e["index"] for e in s["errors"]] == [7, 1234]
        # The message does not name the place in its batch (record 34 of the fifth), which the
        # index replaces.
        assert not s["errors"][1]["message"].startswith("record "), s["errors"]
        assert c.health()["records"] == 2498
        again = c.ingest(records, batch_size=1000)
        assert again["duplicates"] == 2498
        assert c.get_user("bulk2499")["data"]["demographics"]["age"] == 2499 % 90


def test_split_detaches_a_shared_cookie(server):
    with Client(server) as c:
        c.ingest([{"cookie": "c1", "email": "a@x.com", "created_at": "2025-03-01T10:00:00"},
                  {"cookie": "kiosk", "email": "a@x.com", "created_at": "2025-03-02T10:00:00"},
                  {"cookie": "kiosk", "email": "b@x.com", "created_at": "2025-03-03T10:00:00"},
                  {"cookie": "c2", "email": "b@x.com", "created_at": "2025-03-04T10:00:00"}])
        assert sorted(c.get_user("c1")["profile"]["cookies"]) == ["c1", "c2", "kiosk"]
        profiles = c.split("kiosk")
        assert [p["cookies"] for p in profiles] == [["kiosk"], ["c1"], ["c2"]]
        assert c.get_user("kiosk")["profile"]["emails"] == []
        with pytest.raises(AudienceError) as e:
            c.split("nobody")
        assert e.value.code == "NOT_FOUND"


def test_gaps_and_numbers_as_pandas_and_numpy_write_them(server):
    # Records from a DataFrame: NaN (and pd.NA) for gaps, numpy scalars and arrays. A gap is an
    # absent field, as the CLI reads pandas' CSV; it used to be stored as the text "nan".
    np = pytest.importorskip("numpy")
    pd = pytest.importorskip("pandas")
    nan = float("nan")
    with Client(server) as c:
        s = c.ingest([
            {"data": {"cookie": "n1", "created_at": "03/10/2025 15:30", "location": {"country": nan, "city": pd.NA},
                      "demographics": {"age": np.int64(30), "gender": nan, "income": np.float64("nan")}}},
            {"data": {"cookie": "n2", "created_at": "03/10/2025 15:30", "demographics": {"age": nan}, "location": nan}},
            {"data": {"cookie": "n3", "created_at": "03/10/2025 15:30",
                      "demographics": {"income": np.int64(50000), "age": np.float64(41.0)}}},
            {"data": {"cookie": "n4", "created_at": "03/10/2025 15:30", "interests": np.array(["Tech", "AI"])}},
            {"data": {"cookie": "n5", "created_at": "03/10/2025 15:30", "interests": nan}},
            {"data": {"cookie": "n6", "created_at": "03/10/2025 15:30", "demographics": {"age": "25.0"}}},
        ])
        assert (s["accepted"], s["rejected"]) == (6, 0), s
        assert c.get_user("n6")["data"]["demographics"]["age"] == 25
        n1 = c.get_user("n1")["data"]
        assert n1["location"]["country"] is None and n1["location"]["city"] is None
        assert n1["demographics"]["gender"] is None and n1["demographics"]["income"] is None
        assert n1["demographics"]["age"] == 30
        assert c.get_user("n2")["data"]["demographics"]["age"] is None
        assert c.get_user("n3")["data"]["demographics"]["income"] == "50000"
        assert c.get_user("n3")["data"]["demographics"]["age"] == 41
        assert c.get_user("n4")["data"]["interests"] == ["Tech", "AI"]
        assert c.query_cohort(where="country:nan", count_only=True)["total"] == 0
        assert "nan" not in c.analyze(no_kmeans=True)["countries"]


def test_interests_written_as_one_string_are_read_as_the_cli_reads_them(server):
    # pandas' read_csv then to_json writes interests as the string "['Tech', 'AI']": it was
    # stored as one interest with that text.
    with Client(server) as c:
        s = c.ingest([
            {"data": {"cookie": "s1", "interests": "['Tech', 'Rock & Roll']"}},
            {"data": {"cookie": "s2", "interests": "[]"}},
            {"data": {"cookie": "s3", "interests": "Tech;AI|Music"}},
            {"data": {"cookie": "s4", "interests": "['it\\'s', 'caf\\xe9']"}},
        ])
        assert (s["accepted"], s["rejected"]) == (4, 0), s
        assert c.get_user("s1")["data"]["interests"] == ["Tech", "Rock & Roll"]
        assert c.get_user("s2")["data"]["interests"] == []
        assert c.get_user("s3")["data"]["interests"] == ["Tech", "AI", "Music"]
        assert c.get_user("s4")["data"]["interests"] == ["it's", "caf\xe9"]


def test_filter_keywords_refuse_what_the_cli_refuses(server):
    with Client(server) as c:
        for bad in [{"income_min": 50000.5}, {"income_min": "50k"}, {"age_max": "30"}, {"gender": ""},
                    {"interests": []}, {"country": " "}]:
            with pytest.raises(ValueError) as e:
                c.query_cohort(count_only=True, **bad)
            assert next(iter(bad)) in str(e.value)
        assert c.query_cohort(count_only=True, income_min=50000.0, age_max=30)["total"] == 0
        np = pytest.importorskip("numpy")
        assert c.query_cohort(count_only=True, interests=np.array(["Gaming", "AI"]))["total"] == 0
    # float32 NaN (parquet columns) and numpy's NaT are gaps too, not the text "nan".
    from audience_client.records import record_to_proto
    r = record_to_proto({"cookie": "f", "location": {"city": np.float32("nan")},
                         "demographics": {"age": np.float32("nan"), "income": np.float16("nan")},
                         "created_at": np.datetime64("NaT")})
    assert r.location.city == "" and not r.demographics.HasField("age")
    assert r.demographics.income == "" and r.created_at == ""


def test_fields_where_the_shape_does_not_read_them_are_warnings(server):
    # As the CLI warns by line: an age under location, a city beside data, a dotted name under the
    # wrong group. Their values were dropped without a word.
    rows = [
        {"data": {"cookie": "m1", "location": {"city": "Oslo", "age": 33}}, "country": "Norway"},
        {"cookie": "m2", "location.age": 40, "demographics.city": "Rome"},
        {"cookie": "m3", "city": "Lima", "location.country": "Peru"},  # read: no warning
        {"cookie": "m4", "location.age": float("nan"), "location": {"age": None}},  # gaps: nothing lost
    ]
    with Client(server) as c:
        with pytest.warns(UserWarning, match="4 field\\(s\\) were not read"):
            s = c.ingest(rows)
        assert (s["accepted"], s["rejected"]) == (4, 0), s
        assert s["warnings"] == [
            {"index": 0, "message": "country is beside data, not in it: it is not read"},
            {"index": 0, "message": "data.location.age is not read: it goes in data.demographics.age"},
            {"index": 1, "message": "location.age is not read: it goes in demographics.age"},
            {"index": 1, "message": "demographics.city is not read: it goes in location.city"},
        ], s["warnings"]
        assert c.get_user("m1")["data"]["location"]["city"] == "Oslo"
        assert c.get_user("m1")["data"]["demographics"]["age"] is None
        m3 = c.get_user("m3")["data"]["location"]
        assert (m3["city"], m3["country"]) == ("Lima", "Peru")


def test_keys_in_another_case_are_warnings(server):
    # Keys are matched exactly, as the CLI's JSON lines: "Email" was dropped without a word.
    rows = [
        {"data": {"cookie": "k1", "Email": "k1@x.com", "location": {"City": "Oslo"}}},
        {"cookie": "k2", "Location.City": "Rome", "email": "k2@x.com"},
    ]
    with Client(server) as c:
        with pytest.warns(UserWarning, match="3 field\\(s\\) were not read"):
            s = c.ingest(rows)
        assert s["warnings"] == [
            {"index": 0, "message": "data.Email is not read: keys are lower case (email)"},
            {"index": 0, "message": "data.location.City is not read: keys are lower case (city)"},
            {"index": 1, "message": "Location.City is not read: keys are lower case (location.city)"},
        ], s["warnings"]


def test_flat_rows_from_a_dataframe_are_read(server):
    # df.to_dict("records") gives flat rows: plain names (as the CLI's CSV columns) or the dotted
    # names json_normalize writes. Every field but cookie and email was dropped without a word.
    pd = pytest.importorskip("pandas")
    plain = pd.DataFrame([{"cookie": "f1", "email": "f1@x.com", "city": "Paris", "country": "France", "age": 30,
                           "income": "50000", "interests": ["Tech"]}])
    nested = [{"data": {"cookie": "f2", "created_at": "03/10/2025 15:30",
                        "location": {"city": "Rome"}, "demographics": {"age": 41, "gender": "Female"}}}]
    dotted = pd.json_normalize(nested)
    assert "data.location.city" in dotted.columns
    with Client(server) as c:
        s = c.ingest(plain.to_dict("records") + dotted.to_dict("records"))
        assert (s["accepted"], s["rejected"]) == (2, 0), s
        f1 = c.get_user("f1")["data"]
        assert (f1["location"]["city"], f1["location"]["country"], f1["demographics"]["age"]) == ("Paris", "France", 30)
        assert f1["demographics"]["income"] == "50000" and f1["interests"] == ["Tech"]
        f2 = c.get_user("f2")["data"]
        assert (f2["location"]["city"], f2["demographics"]["age"], f2["demographics"]["gender"]) == ("Rome", 41, "Female")
        assert f2["created_at"] == "2025-03-10T15:30:00"


def test_an_age_no_record_can_hold_is_refused_by_the_server(server):
    # The CLI and expressions refused age:200; the protocol's filter matched no one without a word.
    with Client(server) as c:
        for bad in [{"age_min": 200}, {"age_max": -1}]:
            with pytest.raises(AudienceError) as e:
                c.query_cohort(count_only=True, **bad)
            assert e.value.code == "INVALID_ARGUMENT" and "is not an age (0 to 130)" in e.value.message
        assert c.query_cohort(count_only=True, age_min=0, age_max=130)["total"] == 0


def test_control_characters_of_stored_values_do_not_reach_a_terminal(server):
    # U+009B is CSI to terminals honouring 8-bit controls: a stored city could rewrite the screen.
    import os
    import pty
    import subprocess
    from .conftest import BIN_DIR
    city = "Pa\u009b2Jris"
    with Client(server) as c:
        c.ingest([{"cookie": "tty", "location": {"city": city}}])
    cmd = [str(BIN_DIR / "audience"), "user", "tty", "--socket", server]
    piped = subprocess.run(cmd, capture_output=True, check=True).stdout.decode()
    assert city in piped, "written to a pipe, every character is kept"
    primary, secondary = pty.openpty()
    p = subprocess.Popen(cmd, stdout=secondary, stderr=subprocess.DEVNULL)
    os.close(secondary)
    out = b""
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    assert p.wait(timeout=30) == 0
    os.close(primary)
    text = out.decode()
    assert "Pa\ufffd2Jris" in text and "\u009b" not in text, text
