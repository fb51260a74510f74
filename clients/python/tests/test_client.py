import pytest

from audience_client import AudienceError, Client

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
