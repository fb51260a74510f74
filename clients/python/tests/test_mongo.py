"""audienced --store mongodb against the MongoDB wire-protocol test server, read back with pymongo."""
import threading
import time

import pandas as pd
import pymongo
import pytest

from audience_client import AudienceError, Client

from .conftest import MongoTestServer, audienced

SEED = {"data": {"cookie": "user_cookie_id", "email": "user@example.com", "phone_number": "1234567890",
                 "created_at": "03/10/2025 15:30",
                 "location": {"state": "California", "country": "USA", "city": "Los Angeles"},
                 "demographics": {"age": 25, "gender": "Male", "income": "50000", "education": "Bachelor's"},
                 "interests": ["Tech", "Gaming"]}}


def mongo_args(mongo, db="user_database"):
    return ("--store", "mongodb", "--mongo-uri", mongo.uri, "--mongo-db", db)


def test_pandas_reads_the_original_layout(mongo):
    with audienced(*mongo_args(mongo)) as sock, Client(sock) as c:
        c.ingest([SEED, {"cookie": "laptop", "email": "USER@example.com", "created_at": "2025-03-12T09:00:00",
                         "interests": ["AI"]},
                  {"cookie": "other", "email": "o@example.com", "demographics": {"age": 40},
                   "location": {"country": "Canada"}, "created_at": "2025-03-11T09:00:00"}])
        assert c.health()["profiles"] == 2
    db = pymongo.MongoClient(mongo.uri).user_database
    unique = pd.json_normalize(list(db.unique.find({}, {"_id": 0}))).set_index("data.cookie")
    assert unique.loc["laptop", "data.email"] == "user@example.com"
    assert unique.loc["laptop", "data.location.country"] == "USA"
    assert unique.loc["laptop", "data.demographics.age"] == 25
    assert unique.loc["laptop", "data.interests"] == ["Tech", "Gaming", "AI"]
    assert unique.loc["laptop", "data.created_at"] == "2025-03-12T09:00:00"
    assert unique.loc["other", "data.location.country"] == "Canada"
    raw = pd.json_normalize(list(db.users.find({}, {"_id": 0})))
    assert sorted(raw["data.cookie"]) == ["laptop", "other", "user_cookie_id"]
    assert set(raw["data.created_at"]) == {"2025-03-10T15:30:00", "2025-03-12T09:00:00", "2025-03-11T09:00:00"}
    cohort = pd.json_normalize(list(db.cohort.find({}, {"_id": 0})))
    assert sorted(cohort["data.cookie"]) == ["laptop", "user_cookie_id"]
    indexes = {i["name"]: i for i in db.unique.list_indexes()}
    assert indexes["cookies_1"]["unique"] and indexes["emails_1"]["unique"]


def test_cohort_keeps_only_emails_still_repeated_after_split_and_forget(mongo):
    """`cohort` holds the records that carry an email some person holds with two or more cookies.
    A split or a forget that leaves an email repeated by nobody takes its records out (they
    stayed, though `health` and the person's `repeated` said otherwise)."""
    day = "2025-03-0{}T10:00:00"
    with audienced(*mongo_args(mongo, "resync"), "--max-identifiers-per-profile", "4") as sock, Client(sock) as c:
        db = pymongo.MongoClient(mongo.uri).resync

        def cohort(email):
            return sorted(d["data"]["cookie"] for d in db.cohort.find({"data.email": email}))

        # Split: c2 leaves the person of e@x.com, which is no longer repeated.
        c.ingest([{"cookie": "c1", "email": "e@x.com", "created_at": day.format(1)},
                  {"cookie": "c2", "email": "e@x.com", "created_at": day.format(2)}])
        assert cohort("e@x.com") == ["c1", "c2"]
        c.split("c2")
        assert c.health()["repeated_emails"] == 0
        assert cohort("e@x.com") == []
        c.forget(cookie="c2")
        assert cohort("e@x.com") == []
        # Forget: the cap refused k4's link to f@x.com; k1's next record copied every record
        # carrying f@x.com, k4's too. Erasing the person leaves f@x.com repeated by nobody.
        c.ingest([{"cookie": f"k{i}", "email": "f@x.com", "created_at": day.format(i)} for i in (1, 2, 3, 4)]
                 + [{"cookie": "k1", "email": "f@x.com", "created_at": day.format(5)}])
        assert c.get_user("k4")["profile"]["emails"] == []
        assert cohort("f@x.com") == ["k1", "k1", "k2", "k3", "k4"]
        c.forget(cookie="k1")
        assert cohort("f@x.com") == []
        # A split that leaves the email repeated keeps the records carrying it.
        c.ingest([{"cookie": f"m{i}", "email": "g@x.com", "created_at": day.format(i)} for i in (1, 2, 3)])
        c.split("m1")
        assert sorted(c.get_user("m2")["profile"]["cookies"]) == ["m2", "m3"]
        assert cohort("g@x.com") == ["m1", "m2", "m3"]


def test_two_servers_on_one_database_make_one_person_each(mongo):
    """Each person's records are split between two servers ingesting at once; every person
    must end as exactly one document holding all of their cookies and emails."""
    people = 100
    side_a = [r for i in range(people) for r in (
        {"cookie": f"a{i}", "email": f"e{i}@x.com", "created_at": "2025-03-01T10:00:00"},
        {"cookie": f"b{i}", "email": f"f{i}@x.com", "created_at": "2025-03-01T10:01:00"})]
    side_b = [r for i in range(people) for r in (
        {"cookie": f"c{i}", "email": f"f{i}@x.com", "created_at": "2025-03-01T10:02:00"},
        {"cookie": f"c{i}", "email": f"e{i}@x.com", "created_at": "2025-03-01T10:03:00"})]
    with audienced(*mongo_args(mongo, "shared")) as sock_a, audienced(*mongo_args(mongo, "shared")) as sock_b:
        errors = []

        def load(sock, records):
            try:
                with Client(sock) as c:
                    for start in range(0, len(records), 2):
                        c.ingest(records[start:start + 2])
            except Exception as e:  # reported below
                errors.append(e)

        threads = [threading.Thread(target=load, args=(sock_a, side_a)),
                   threading.Thread(target=load, args=(sock_b, side_b))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        with Client(sock_a) as c:
            assert c.health()["profiles"] == people
            assert sorted(c.get_user("a7")["profile"]["cookies"]) == ["a7", "b7", "c7"]
    db = pymongo.MongoClient(mongo.uri).shared
    docs = list(db.unique.find({}))
    assert len(docs) == people
    owner = {}
    for d in docs:
        assert "merging" not in d
        for ident in d["cookies"] + d.get("emails", []):
            assert ident not in owner, f"{ident} in two people"
            owner[ident] = d["_id"]
    for i in range(people):
        assert owner[f"a{i}"] == owner[f"b{i}"] == owner[f"c{i}"] == owner[f"e{i}@x.com"] == owner[f"f{i}@x.com"]
    assert db.users.count_documents({}) == 4 * people


def test_mongodb_down_is_unavailable_and_the_server_recovers():
    mongo = MongoTestServer().start()
    port = mongo.port
    with audienced(*mongo_args(mongo)) as sock, Client(sock) as c:
        assert c.ingest([SEED])["accepted"] == 1
        mongo.stop()
        started = time.monotonic()
        with pytest.raises(AudienceError) as failure:
            c.ingest([{"cookie": "while-down"}])
        assert failure.value.code == "UNAVAILABLE"
        assert "MongoDB is unavailable" in failure.value.message
        assert time.monotonic() - started < 20
        with pytest.raises(AudienceError) as failure:
            c.get_user("user_cookie_id")
        assert failure.value.code == "UNAVAILABLE"
        # MongoDB returns (the test server starts empty): the same server serves again by itself.
        mongo = MongoTestServer(port).start()
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    assert c.ingest([{"cookie": "after", "email": "back@example.com"}])["accepted"] == 1
                    break
                except AudienceError as e:
                    assert e.code == "UNAVAILABLE" and time.monotonic() < deadline
                    time.sleep(0.5)
            assert c.get_user("after")["data"]["email"] == "back@example.com"
        finally:
            mongo.stop()
