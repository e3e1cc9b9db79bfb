"""The OpenAPI document describes exactly the routes the server serves."""

from __future__ import annotations

from api.routes import OPERATIONS, UNDOCUMENTED_PATHS
from tests.conftest import Api


async def test_every_route_is_documented_and_every_documented_route_exists(api: Api) -> None:
    document = await api.ok("GET", "/api/openapi.json")
    assert document["openapi"].startswith("3.")
    documented = {
        (method.upper(), path) for path, ops in document["paths"].items() for method in ops
    }
    served = {
        (route.method, route.resource.canonical)
        for route in api.client.app.router.routes()
        if route.resource is not None
        and route.method != "HEAD"
        and route.resource.canonical != "/api/openapi.json"
        and route.resource.canonical not in UNDOCUMENTED_PATHS  # WebSocket and web pages
    }
    assert documented == served
    for required in [
        ("POST", "/register"),
        ("POST", "/login"),
        ("POST", "/upload-frame"),
        ("GET", "/alerts"),
        ("POST", "/submit"),
    ]:
        assert required in documented


async def test_documented_schemas_match_real_responses(api: Api) -> None:
    document = await api.ok("GET", "/api/openapi.json")
    schemas = document["components"]["schemas"]
    login_schema = schemas["LoginOut"]
    await api.candidate("zoe")
    login = await api.ok("POST", "/login", json={"username": "zoe", "password": "candidate-pass-1"})
    assert set(login) == set(login_schema["properties"])
    assert set(login_schema.get("required", [])) <= set(login)
    register = document["paths"]["/register"]["post"]
    assert register["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/RegisterBody"
    }
    assert set(schemas["RegisterBody"]["required"]) == {"username", "password"}
    # Protected operations say so, public ones do not.
    assert "security" in document["paths"]["/alerts"]["get"]
    assert "security" not in document["paths"]["/login"]["post"]
    assert {op.path for op in OPERATIONS} == set(document["paths"])
