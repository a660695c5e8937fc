"""B2B Edition Orders routes (``/api/v3/io``) of the sandbox store."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import web
from multidict import MultiMapping

from ._data import channel_name, company_of_customer
from ._http import ApiError, b2b_error, decode_body, json_response
from ._index import Filter, SortKey
from ._util import DAY, YEAR, is_int

if TYPE_CHECKING:
    from ._store import SandboxStore

PREFIX = "/api/v3/io"
MAX_LIMIT = 200
POST_WINDOW_SECONDS = 10
B2B_CHANNEL_ID_OFFSET = 1000  # B2B Edition's own channel id = channelId + offset
MSF_DISABLED = "Multi storefront is not enabled"


def _qint(q: MultiMapping[str], name: str) -> int | None:
    raw = q.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        return int(raw.strip())
    except ValueError:
        raise ApiError(400, f"{name} must be an integer", {name: "Not a valid integer."}) from None


def _qbool(q: MultiMapping[str], name: str) -> bool:
    raw = (q.get(name) or "").strip().lower()
    if raw in ("", "false", "0"):
        return False
    if raw in ("true", "1"):
        return True
    raise ApiError(400, f"{name} must be true or false", {name: "Not a valid boolean."})


def _channels(q: MultiMapping[str]) -> frozenset[int]:
    raw = [*q.getall("channelIds[]", []), *q.getall("channelIds", [])]
    out: set[int] = set()
    for item in raw:
        for part in item.split(","):
            part = part.strip()
            if not part:
                continue
            try:
                out.add(int(part))
            except ValueError:
                raise ApiError(
                    400, "channelIds must be integers", {"channelIds": "Not a valid integer."}
                ) from None
    return frozenset(out) if out else frozenset({1})


def paginate_params(q: MultiMapping[str]) -> tuple[int, int]:
    """Validate B2B ``limit``/``offset`` (413 above the maximum, 400 when invalid)."""
    limit = _qint(q, "limit")
    limit = 10 if limit is None else limit
    if limit > MAX_LIMIT:
        raise ApiError(413, "Request Entity Too Large")
    if limit < 1:
        raise ApiError(400, "limit must be between 1 and 200", {"limit": "Must be at least 1."})
    offset = _qint(q, "offset")
    offset = 0 if offset is None else offset
    if offset < 0:
        raise ApiError(400, "offset must not be negative", {"offset": "Must be at least 0."})
    return limit, offset


def _check_extra_fields(value: Any, field: str = "extraFields") -> list[dict[str, str]]:
    if not isinstance(value, list):
        raise ApiError(422, f"{field} must be a list", {field: "Not a valid list."})
    out: list[dict[str, str]] = []
    for k, item in enumerate(value):
        if not isinstance(item, dict):
            raise ApiError(422, f"{field}[{k}] must be an object", {field: "Not a valid object."})
        name = item.get("fieldName")
        val = item.get("fieldValue")
        if not isinstance(name, str) or not name:
            raise ApiError(
                422,
                f"{field}[{k}].fieldName must be a non-empty string",
                {field: f"Item {k}: fieldName is required and must be a string."},
            )
        if not isinstance(val, str):
            raise ApiError(
                422,
                f"{field}[{k}].fieldValue must be a string",
                {field: f"Item {k}: fieldValue is required and must be a string."},
            )
        out.append({"fieldName": name, "fieldValue": val})
    return out


class B2BRoutes:
    """Handlers for the B2B Edition order endpoints."""

    def __init__(self, store: SandboxStore) -> None:
        self.store = store

    def register(self, router: web.UrlDispatcher) -> None:
        """Add the B2B routes to an aiohttp router."""
        p = PREFIX
        router.add_get(f"{p}/orders", self.list_orders)
        router.add_post(f"{p}/orders", self.create_order)
        router.add_get(f"{p}/orders/extra-fields", self.extra_fields)
        router.add_get(f"{p}/orders/{{bc_id}}", self.get_order)
        router.add_put(f"{p}/orders/{{bc_id}}", self.update_order)
        router.add_get(f"{p}/orders/{{bc_id}}/products", self.order_products)
        router.add_put(f"{p}/customers/{{customer_id}}/orders/company", self.reassign_company)
        router.add_put(f"{p}/customers/{{customer_id}}/orders/b2b", self.assign_b2b)
        router.add_get(f"{p}/channels", self.list_channels)
        router.add_get(f"{p}/channels/{{channel_id}}", self.get_channel)

    def _position(self, request: web.Request, message: str = "Order Does Not Exist.") -> int:
        try:
            bc_id = int(request.match_info["bc_id"])
        except ValueError:
            raise ApiError(404, message) from None
        i = self.store._position(bc_id)
        if i is None or not self.store._index.b2b[i]:  # consumer orders are V2 only
            raise ApiError(404, message)
        return i

    # -- GET /orders ------------------------------------------------------------------------

    def build_filter(self, q: MultiMapping[str]) -> tuple[Filter, int | None]:
        """Translate list query parameters into a canonical filter (+ bcOrderId)."""
        store = self.store
        sort_by = q.get("sortBy", "updatedAt")
        if sort_by not in ("createdAt", "updatedAt"):
            raise ApiError(
                400,
                "sortBy must be createdAt or updatedAt",
                {"sortBy": "Must be one of: createdAt, updatedAt."},
            )
        sort: SortKey = "createdAt" if sort_by == "createdAt" else "updatedAt"
        bounds = {
            name: _qint(q, name)
            for name in ("minCreated", "maxCreated", "minModified", "maxModified")
        }
        step = 0 if store.bounds_inclusive else 1

        def lo(v: int | None) -> int | None:
            return None if v is None else v + step

        def hi(v: int | None) -> int | None:
            return None if v is None else v - step

        u_lo = lo(bounds["minModified"])
        if all(v is None for v in bounds.values()):
            # The documented default: only orders created or updated in the last year.
            # updatedAt >= createdAt, so "created or updated since X" is "updated since X".
            cutoff = store._now() - YEAR
            first = store._index.first_updated_at_or_after(cutoff)
            u_lo = cutoff if first is None else first
        f = Filter(
            c_lo=lo(bounds["minCreated"]),
            c_hi=hi(bounds["maxCreated"]),
            u_lo=u_lo,
            u_hi=hi(bounds["maxModified"]),
            channels=_channels(q),
            company=_qint(q, "companyId"),
            sort=sort,
        )
        return f, _qint(q, "bcOrderId")

    async def list_orders(self, request: web.Request) -> web.Response:
        """GET /orders."""
        store = self.store
        q = request.query
        limit, offset = paginate_params(q)
        order_by = q.get("orderBy", "DESC").strip().upper()
        if order_by not in ("ASC", "DESC"):
            raise ApiError(
                400, "orderBy must be ASC or DESC", {"orderBy": "Must be one of: ASC, DESC."}
            )
        show_extra = _qbool(q, "showExtra")
        f, bc_filter = self.build_filter(q)
        ix = store._index
        if bc_filter is not None:
            i = store._position(bc_filter)
            hit = i is not None and f.matches(
                ix.created[i], ix.updated[i], ix.channel[i], ix.company[i]
            )
            total = 1 if hit else 0
            page = [i] if (hit and offset == 0 and i is not None) else []
        else:
            total, page = ix.page(f, offset, limit, order_by == "DESC")
        data = [
            store._seeded.b2b_record(i, store._orders.get(i), extra=show_extra, detail=False)
            for i in page
        ]
        resp = json_response(
            {
                "code": 200,
                "data": data,
                "meta": {
                    "message": "SUCCESS",
                    "pagination": {"totalCount": total, "limit": limit, "offset": offset},
                },
            }
        )
        store._after_list(page)
        return resp

    # -- POST /orders -----------------------------------------------------------------------

    async def create_order(self, request: web.Request) -> web.Response:
        """POST /orders: attach B2B details to a store order created within 10 seconds."""
        store = self.store
        body = decode_body(await request.read())
        if not isinstance(body, dict):
            raise ApiError(400, "The request body must be a JSON object.", "Invalid request body")
        missing = {
            k: "Missing data for required field."
            for k in ("bcOrderId", "customerId")
            if k not in body
        }
        if missing:
            raise ApiError(400, "Missing required fields", missing)
        errors: dict[str, str] = {}
        for k in ("bcOrderId", "customerId"):
            if not is_int(body[k]):
                errors[k] = "Not a valid integer."
        if "poNumber" in body and not isinstance(body["poNumber"], str):
            errors["poNumber"] = "Not a valid string."
        if errors:
            raise ApiError(422, "Invalid field values", errors)
        extra = _check_extra_fields(body["extraFields"]) if "extraFields" in body else None
        i = store._position(body["bcOrderId"])
        if i is None:
            raise ApiError(404, "Order Does Not Exist.")
        if store._now() - store._index.v2_created(i) > POST_WINDOW_SECONDS:
            raise ApiError(400, "The order already exists.")
        order = store._materialize(i)
        if "poNumber" in body:
            order.po_number = body["poNumber"]
        if extra is not None:
            order.extra_fields = extra
        customer = body["customerId"]
        ix = store._index
        ix.customer[i] = customer
        company = company_of_customer(customer, store.companies)
        store._touch(i, company=company or None, b2b=True)
        data = store._seeded.b2b_record(i, order, extra=True, detail=True)
        return json_response({"code": 200, "data": data, "meta": {"message": "SUCCESS"}})

    # -- GET/PUT /orders/{bcOrderId} --------------------------------------------------------

    async def get_order(self, request: web.Request) -> web.Response:
        """GET /orders/{bcOrderId}: ``data`` is a one-item list."""
        store = self.store
        i = self._position(request)
        rec = store._seeded.b2b_record(i, store._orders.get(i), extra=True, detail=True)
        return json_response({"code": 200, "data": [rec], "meta": {"message": "SUCCESS"}})

    async def update_order(self, request: web.Request) -> web.Response:
        """PUT /orders/{bcOrderId}: poNumber and/or extraFields."""
        store = self.store
        i = self._position(request, "Not Found Error")
        body = decode_body(await request.read())
        if not isinstance(body, dict):
            raise ApiError(400, "The request body must be a JSON object.", "Invalid request body")
        if "poNumber" not in body and "extraFields" not in body:
            raise ApiError(
                400, "poNumber or extraFields is required", "poNumber or extraFields is required"
            )
        if "poNumber" in body and not isinstance(body["poNumber"], str):
            raise ApiError(422, "poNumber must be a string", {"poNumber": "Not a valid string."})
        extra = _check_extra_fields(body["extraFields"]) if "extraFields" in body else None
        for cfg in store.extra_field_configs:
            if not cfg["isRequired"]:
                continue
            name = cfg["fieldName"]
            given = [f for f in (extra or []) if f["fieldName"] == name and f["fieldValue"].strip()]
            if not given:
                msg = f"{name} is a required extra field"
                raise ApiError(422, msg, msg)
        order = store._materialize(i)
        if "poNumber" in body:
            order.po_number = body["poNumber"]
        if extra is not None:
            order.extra_fields = extra
        store._touch(i)
        rec = store._seeded.b2b_record(i, order, extra=True, detail=True)
        return json_response({"code": 200, "data": [rec], "message": "SUCCESS"})

    async def order_products(self, request: web.Request) -> web.Response:
        """GET /orders/{bcOrderId}/products."""
        store = self.store
        i = self._position(request, "The order does not exist.")
        data = store._seeded.b2b_products(i, store._view(i))
        return json_response({"code": 200, "data": data, "message": "SUCCESS"})

    # -- extra field configs ----------------------------------------------------------------

    async def extra_fields(self, request: web.Request) -> web.Response:
        """GET /orders/extra-fields (limit/offset paginated)."""
        limit, offset = paginate_params(request.query)
        configs = self.store.extra_field_configs
        return json_response(
            {
                "code": 200,
                "data": configs[offset : offset + limit],
                "meta": {
                    "message": "SUCCESS",
                    "pagination": {"totalCount": len(configs), "limit": limit, "offset": offset},
                },
            }
        )

    # -- customers ------------------------------------------------------------------------

    def _customer(self, request: web.Request) -> int:
        try:
            return int(request.match_info["customer_id"])
        except ValueError:
            raise ApiError(
                404, "User does not exist or action not supported for this user"
            ) from None

    async def reassign_company(self, request: web.Request) -> web.Response:
        """PUT /customers/{customerId}/orders/company: move a company user's orders."""
        store = self.store
        customer = self._customer(request)
        body = decode_body(await request.read())
        if not isinstance(body, dict) or "bcGroupId" not in body:
            raise ApiError(
                400, "bcGroupId is required", {"bcGroupId": "Missing data for required field."}
            )
        group = body["bcGroupId"]
        if not is_int(group):
            raise ApiError(
                400, "bcGroupId must be an integer", {"bcGroupId": "Not a valid integer."}
            )
        # Dependent Companies: one customer group per company, group id == company id here.
        if company_of_customer(customer, store.companies) == 0 or not 1 <= group <= store.companies:
            raise ApiError(404, "User does not exist or action not supported for this user")
        moved = store._move_customer_orders(customer, group, only_unassigned=False)
        return json_response({"code": 200, "data": {"total": moved}, "message": "SUCCESS"})

    async def assign_b2b(self, request: web.Request) -> web.Response:
        """PUT /customers/{customerId}/orders/b2b: attach a buyer's orders to their company."""
        store = self.store
        customer = self._customer(request)
        company = company_of_customer(customer, store.companies)
        if company == 0:
            raise ApiError(404, "User does not exist or action not support for this user.")
        moved = store._move_customer_orders(customer, company, only_unassigned=True)
        return json_response({"code": 200, "data": {"total": moved}, "message": "SUCCESS"})

    # -- channels -------------------------------------------------------------------------

    def _channel(self, channel_id: int) -> dict[str, Any]:
        created = str(self.store.built_at - 800 * DAY + channel_id * 3_600)
        slug = channel_name(channel_id).lower().replace(" ", "-")
        return {
            "id": channel_id + B2B_CHANNEL_ID_OFFSET,
            "channelId": channel_id,
            "name": channel_name(channel_id),
            "type": "storefront",
            "platform": "bigcommerce",
            "status": "active",
            "site": f"https://{slug}.example.com",
            "isVisible": True,
            "isEnabled": True,
            "iconUrl": f"https://cdn.example.com/icons/{channel_id}.png",
            "b2bEnabled": True,
            "allowGlobalLogins": False,
            "createdAt": created,
            "updatedAt": created,
        }

    def _msf_disabled(self) -> web.Response | None:
        if self.store.multi_storefront:
            return None
        # The B2B error envelope; the spec documents {code, message}, so the message is
        # also at the top level.
        resp = b2b_error(403, MSF_DISABLED, MSF_DISABLED)
        body = msgspec.json.decode(resp.body) if isinstance(resp.body, bytes) else {}
        return json_response({**body, "message": MSF_DISABLED}, 403)

    async def list_channels(self, request: web.Request) -> web.Response:
        """GET /channels: the store's enabled channels (403 without multi-storefront)."""
        denied = self._msf_disabled()
        if denied is not None:
            return denied
        data = [self._channel(c) for c in sorted(self.store.channels)]
        return json_response({"code": 200, "data": data, "meta": {"message": "SUCCESS"}})

    async def get_channel(self, request: web.Request) -> web.Response:
        """GET /channels/{channel_id} (BigCommerce's channel id)."""
        denied = self._msf_disabled()
        if denied is not None:
            return denied
        try:
            channel_id = int(request.match_info["channel_id"])
        except ValueError:
            raise ApiError(404, "Channel does not exist") from None
        if channel_id not in self.store.channels:
            raise ApiError(404, "Channel does not exist")
        data = self._channel(channel_id)
        return json_response({"code": 200, "data": data, "meta": {"message": "SUCCESS"}})
