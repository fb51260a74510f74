"""Python client for the Audience server.

    from audience_client import Client
    with Client("./audience.sock") as c:
        c.ingest([{"data": {"cookie": "c1", "email": "a@example.com", "created_at": "03/10/2025 15:30"}}])
        print(c.get_user("c1"))
        print(c.query_cohort(country="USA", age_min=20, age_max=30)["total"])
        print(c.analyze()["countries"])
"""

from .client import AudienceError, Client
from .records import record_from_proto, record_to_proto

__all__ = ["AudienceError", "Client", "record_from_proto", "record_to_proto"]
