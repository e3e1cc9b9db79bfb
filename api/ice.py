"""What the pages need to build their peer connections: STUN/TURN servers, TURN credentials
minted for the caller, and whether to relay everything through TURN."""

from __future__ import annotations

from api.operation import Call
from api.schemas import IceConfigOut, IceServerOut
from signaling.ice import ice_settings


async def ice_config(call: Call) -> IceConfigOut:
    ice = ice_settings(call.services.settings)
    servers = ice.browser_servers(str(call.caller.id))
    expires_at = ice.turn_expiry(servers)
    return IceConfigOut(
        ice_servers=[IceServerOut(**server) for server in servers],
        ice_transport_policy="relay" if ice.transport_policy == "relay" else "all",
        expires_at=expires_at,
    )
