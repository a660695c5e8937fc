"""V2 Orders routes (``/stores/{store_hash}/v2``) of the sandbox store."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web
from multidict import MultiMapping

from ._data import BASE_ADDRESS_KEYS, PROVIDERS, Line, Order, make_shipment
from ._http import ApiError, decode_body, json_response
from ._index import ID_BASE
from ._util import CUSTOM_STATUS, STATUS_NAMES, is_int, parse_money, with_tax
from ._v2list import V2_SORTS, V2Engine, V2Query, V2Sort

if TYPE_CHECKING:
    from ._store import SandboxStore

MAX_LIMIT = 250

_MONEY_PAIRS = {
    "subtotal": ("subtotal_ex_tax", "subtotal_inc_tax"),
    "total": ("total_ex_tax", "total_inc_tax"),
    "shipping": ("shipping_cost_ex_tax", "shipping_cost_inc_tax"),
    "handling": ("handling_cost_ex_tax", "handling_cost_inc_tax"),
    "wrapping": ("wrapping_cost_ex_tax", "wrapping_cost_inc_tax"),
}
_MONEY_SINGLE = (
    "base_shipping_cost",
    "base_handling_cost",
    "base_wrapping_cost",
    "discount_amount",
    "refunded_amount",
)
# writable scalar -> (accepts None, max length)
_STRINGS: dict[str, tuple[bool, int | None]] = {
    "customer_message": (False, 65535),
    "staff_notes": (False, 65535),
    "payment_method": (False, None),
    "order_source": (False, None),
    "ebay_order_id": (False, None),
    "external_source": (True, None),
    "external_merchant_id": (True, None),
    "external_order_id": (True, None),
    "geoip_country": (False, None),
    "geoip_country_iso2": (False, None),
    "ip_address": (False, 30),
    "ip_address_v6": (False, 39),
    "customer_locale": (False, None),
}
_OTHER_WRITABLE = {
    "status_id",
    "customer_id",
    "channel_id",
    "billing_address",
    "shipping_addresses",
    "products",
    "items_shipped",
    "items_total",
    "order_is_digital",
    "payment_provider_id",
}
_READ_ONLY = {
    "id",
    "external_id",
    "date_modified",
    "date_shipped",
    "status",
    "cart_id",
    "default_currency_code",
    "default_currency_id",
    "tax_provider_id",
    "subtotal_tax",
    "total_tax",
    "shipping_cost_tax",
    "handling_cost_tax",
    "wrapping_cost_tax",
    "shipping_cost_tax_class_id",
    "handling_cost_tax_class_id",
    "wrapping_cost_tax_class_id",
    "payment_status",
    "store_credit_amount",
    "gift_certificate_amount",
    "currency_id",
    "currency_code",
    "currency_exchange_rate",
    "store_default_currency_code",
    "store_default_to_transactional_exchange_rate",
    "coupon_discount",
    "shipping_address_count",
    "is_deleted",
    "is_tax_inclusive_pricing",
    "is_email_opt_in",
    "credit_card_type",
    "coupons",
    "custom_status",
    "consignments_resource",
    "date_created",
}
_UNSUPPORTED = {"consignments", "fees"}
_PRODUCT_KEYS = {
    "id",
    "product_id",
    "name",
    "name_customer",
    "name_merchant",
    "quantity",
    "price_ex_tax",
    "price_inc_tax",
    "sku",
    "upc",
    "variant_id",
    "product_options",
    "wrapping_id",
    "wrapping_name",
    "wrapping_message",
    "wrapping_cost_ex_tax",
    "wrapping_cost_inc_tax",
}
_SHIPMENT_KEYS = {
    "order_address_id",
    "items",
    "tracking_number",
    "shipping_provider",
    "tracking_carrier",
    "shipping_method",
    "comments",
    "tracking_link",
    "merchant_shipping_cost",
}
_CARRIER_RE = re.compile(r"^carrier_[A-Za-z0-9_-]+$")

Change = Callable[[Order], None]


def _bad(message: str) -> ApiError:
    return ApiError(400, message)


def _page_params(request: web.Request) -> tuple[int, int]:
    q = request.query
    out: list[int] = []
    for name, default, lo, hi in (("page", 1, 1, None), ("limit", 50, 1, MAX_LIMIT)):
        raw = q.get(name, "").strip()
        if raw == "":
            out.append(default)
            continue
        try:
            value = int(raw)
        except ValueError:
            raise _bad(f"The query parameter '{name}' must be an integer.") from None
        if value < lo or (hi is not None and value > hi):
            bound = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
            raise _bad(f"The query parameter '{name}' must be {bound}.")
        out.append(value)
    return out[0], out[1]


def _paged(request: web.Request, items: list[dict[str, Any]]) -> web.Response:
    page, limit = _page_params(request)
    chunk = items[(page - 1) * limit : page * limit]
    if not chunk:
        return web.Response(status=204)
    return json_response(chunk)


#: Order statuses in the control panel's order (``sort_order``), with their descriptions.
_STATUS_ORDER: tuple[tuple[int, str], ...] = (
    (
        0,
        "An incomplete order happens when a shopper reached the payment page, but did not "
        "complete the transaction.",
    ),
    (1, "Customer started the checkout process, but did not complete it."),
    (7, "Customer has completed checkout process, but payment has yet to be confirmed."),
    (11, "Customer has completed the checkout process and payment has been confirmed."),
    (9, "Order has been pulled and packaged, and is awaiting collection from a shipping provider."),
    (8, "Order has been pulled, and is awaiting customer pickup from a seller-specified location."),
    (
        3,
        "Only some items in the order have been shipped, due to some products being "
        "pre-order only or other reasons.",
    ),
    (10, "Client has paid for their digital product and their file(s) are available for download."),
    (
        2,
        "Order has been shipped, but receipt has not been confirmed; seller has used the Ship "
        "Items action.",
    ),
    (5, "Seller has cancelled an order, due to a stock inconsistency or other reasons."),
    (6, "Seller has marked the order as declined for lack of manual payment, or other reasons."),
    (4, "Seller has used the Refund action."),
    (
        13,
        "Customer has initiated a dispute resolution process for the PayPal transaction that "
        "paid for the order.",
    ),
    (12, "Order is on hold while some aspect needs to be manually confirmed."),
    (14, "Seller has partially refunded the order."),
)
_INCLUDES = frozenset({"consignments", "consignments.line_items", "fees"})


def _int_param(q: MultiMapping[str], name: str) -> int | None:
    raw = q.get(name, "").strip()
    if raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise _bad(f"The query parameter '{name}' must be an integer.") from None


def _str_param(q: MultiMapping[str], name: str) -> str | None:
    raw = q.get(name)
    return None if raw is None or raw.strip() == "" else raw.strip()


def parse_v2_date(name: str, raw: str) -> float:
    """Parse an RFC 2822 or ISO 8601 date (naive means UTC) into Unix seconds; 400 else."""
    text = raw.strip()
    when: datetime | None = None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            when = None
    if when is None:
        raise _bad(f"The query parameter '{name}' must be a date in RFC-2822 or ISO-8601 format.")
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def _total_param(q: MultiMapping[str], name: str) -> int | None:
    raw = q.get(name, "").strip()
    if raw == "":
        return None
    value = parse_money(raw)
    if value is None:
        raise _bad(f"The query parameter '{name}' must be a non-negative number.")
    return value


def parse_includes(q: MultiMapping[str]) -> set[str]:
    """The ``include`` values (comma separated and/or repeated); unknown ones are ignored."""
    out: set[str] = set()
    for raw in q.getall("include", []):
        out.update(part.strip() for part in raw.split(",") if part.strip() in _INCLUDES)
    return out


def _money(body: dict[str, Any], key: str) -> int:
    value = parse_money(body[key])
    if value is None:
        raise _bad(f"The field '{key}' must be a non-negative number or numeric string.")
    return value


def _pair(body: dict[str, Any], ex: str, inc: str) -> tuple[int, int] | None:
    if ex not in body and inc not in body:
        return None
    if ex not in body or inc not in body:
        raise _bad(f"The fields '{ex}' and '{inc}' must be supplied together.")
    return _money(body, ex), _money(body, inc)


def _address_patch(value: Any, where: str, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(f"'{where}' must be an object.")
    for k, v in value.items():
        if k not in allowed:
            raise _bad(f"The field '{k}' is not supported in '{where}'.")
        if k == "form_fields":
            if not isinstance(v, list) or not all(
                isinstance(x, dict) and isinstance(x.get("name"), str) for x in v
            ):
                raise _bad(f"'{where}.form_fields' must be a list of {{name, value}} objects.")
        elif k != "id" and not isinstance(v, str):
            raise _bad(f"The field '{where}.{k}' must be a string.")
    return value


class V2Routes:
    """Handlers for the V2 order endpoints."""

    def __init__(self, store: SandboxStore) -> None:
        self.store = store
        self.engine = V2Engine(store)

    def register(self, router: web.UrlDispatcher) -> None:
        """Add the V2 routes to an aiohttp router."""
        root = "/stores/{store_hash}/v2/orders"
        router.add_get(root, self.list_orders)
        router.add_get(f"{root}/count", self.count_orders)
        p = f"{root}/{{order_id}}"
        router.add_get(f"{p}/consignments", self.consignments)
        router.add_get(p, self.get_order)
        router.add_put(p, self.update_order)
        router.add_get(f"{p}/products", self.products)
        router.add_get(f"{p}/shipping_addresses", self.shipping_addresses)
        router.add_get(f"{p}/shippingaddresses", self.shipping_addresses)
        router.add_get(f"{p}/shipments", self.shipments)
        router.add_post(f"{p}/shipments", self.create_shipment)

    def _position(self, request: web.Request) -> int:
        try:
            bc_id = int(request.match_info["order_id"])
        except ValueError:
            raise ApiError(404, "The requested resource was not found.") from None
        i = self.store._position(bc_id)
        if i is None:
            raise ApiError(404, f"Order {bc_id} not found.")
        return i

    async def get_order(self, request: web.Request) -> web.Response:
        """GET /orders/{id} (``include`` and ``consignment_structure`` as for the list)."""
        i = self._position(request)
        return json_response(self._render(i, parse_includes(request.query), request.query))

    # -- GET /orders and /orders/count ------------------------------------------------------

    def build_query(self, q: MultiMapping[str], sort: V2Sort = "id") -> V2Query:
        """Translate the list/count filters into a canonical :class:`V2Query`."""
        store = self.store
        inclusive = store.bounds_inclusive

        def date_lo(name: str) -> int | None:
            raw = _str_param(q, name)
            if raw is None:
                return None
            t = parse_v2_date(name, raw)
            return math.ceil(t) if inclusive or t != math.floor(t) else int(t) + 1

        def date_hi(name: str) -> int | None:
            raw = _str_param(q, name)
            if raw is None:
                return None
            t = parse_v2_date(name, raw)
            return math.floor(t) if inclusive or t != math.floor(t) else int(t) - 1

        min_id, max_id = _int_param(q, "min_id"), _int_param(q, "max_id")
        email = _str_param(q, "email")
        return V2Query(
            pos_lo=None if min_id is None else min_id - ID_BASE,
            pos_hi=None if max_id is None else max_id - ID_BASE,
            c_lo=date_lo("min_date_created"),
            c_hi=date_hi("max_date_created"),
            u_lo=date_lo("min_date_modified"),
            u_hi=date_hi("max_date_modified"),
            channel=_int_param(q, "channel_id"),
            status=_int_param(q, "status_id"),
            customer=_int_param(q, "customer_id"),
            email=None if email is None else email.casefold(),
            cart_id=_str_param(q, "cart_id"),
            payment_method=_str_param(q, "payment_method"),
            total_lo=_total_param(q, "min_total"),
            total_hi=_total_param(q, "max_total"),
            external_order_id=_str_param(q, "external_order_id"),
            sort=sort,
        )

    @staticmethod
    def _sort(q: MultiMapping[str]) -> tuple[V2Sort, bool]:
        raw = q.get("sort", "").strip()
        if not raw:
            return "id", False
        field, _, direction = raw.partition(":")
        direction = direction.strip().lower() or "asc"
        for name in V2_SORTS:
            if field.strip() == name and direction in ("asc", "desc"):
                return name, direction == "desc"
        raise _bad(f"The sort '{raw}' is not supported.")

    def _render(self, i: int, includes: set[str], q: MultiMapping[str]) -> dict[str, Any]:
        store = self.store
        order = store._view(i)
        rec = store._seeded.v2_order(i, order, store.v2_api_url)
        if includes & {"consignments", "consignments.line_items"}:
            obj = store._seeded.v2_consignments(
                i,
                order,
                store.v2_api_url,
                line_items="consignments.line_items" in includes,
                cap=store.line_item_cap,
                empty=store._empty_embedded(i),
            )
            rec["consignments"] = obj if q.get("consignment_structure") == "object" else [obj]
        if "fees" in includes:
            rec["fees"] = []
        return rec

    async def list_orders(self, request: web.Request) -> web.Response:
        """GET /orders: filters, ``sort``, ``page``/``limit`` (204 past the end) and the
        ``include`` side-loads."""
        store = self.store
        q = request.query
        page, limit = _page_params(request)
        sort, descending = self._sort(q)
        query = self.build_query(q, sort)
        includes = parse_includes(q)
        _, positions = self.engine.page(query, page, limit, descending)
        if not positions:
            return web.Response(status=204)
        resp = json_response([self._render(i, includes, q) for i in positions])
        store._last_page = positions
        return resp

    async def count_orders(self, request: web.Request) -> web.Response:
        """GET /orders/count: ``{statuses: [...], count}`` under the list's filters."""
        total, counts = self.engine.status_counts(self.build_query(request.query))
        statuses = [
            {
                "id": sid,
                "name": STATUS_NAMES[sid],
                "system_label": STATUS_NAMES[sid],
                "custom_label": CUSTOM_STATUS.get(sid, STATUS_NAMES[sid]),
                "system_description": description,
                "count": counts.get(sid, 0),
                "sort_order": k,
            }
            for k, (sid, description) in enumerate(_STATUS_ORDER)
        ]
        return json_response({"statuses": statuses, "count": total})

    async def consignments(self, request: web.Request) -> web.Response:
        """GET /orders/{id}/consignments (``include=consignments.line_items`` expands)."""
        store = self.store
        i = self._position(request)
        obj = store._seeded.v2_consignments(
            i,
            store._view(i),
            store.v2_api_url,
            line_items="consignments.line_items" in parse_includes(request.query),
            cap=store.line_item_cap,
            empty=store._empty_embedded(i),
        )
        return json_response(obj)

    async def products(self, request: web.Request) -> web.Response:
        """GET /orders/{id}/products (page/limit; 204 when empty)."""
        store = self.store
        i = self._position(request)
        return _paged(request, store._seeded.v2_products(i, store._view(i)))

    async def shipping_addresses(self, request: web.Request) -> web.Response:
        """GET /orders/{id}/shipping_addresses (page/limit; 204 when empty)."""
        store = self.store
        i = self._position(request)
        return _paged(request, store._seeded.v2_addresses(i, store._view(i), store.v2_api_url))

    async def shipments(self, request: web.Request) -> web.Response:
        """GET /orders/{id}/shipments (page/limit; 204 when there are none)."""
        store = self.store
        i = self._position(request)
        items = sorted(store._view(i).shipments, key=lambda s: int(s["id"]))
        return _paged(request, [dict(s) for s in items])

    # -- PUT /orders/{id} -------------------------------------------------------------------

    async def update_order(self, request: web.Request) -> web.Response:
        """PUT /orders/{id}: validated in full first, then applied atomically."""
        store = self.store
        i = self._position(request)
        body = decode_body(await request.read())
        if not isinstance(body, dict):
            raise _bad("The request body must be a JSON object.")
        current = store._view(i)
        changes: list[Change] = []
        core: dict[str, int] = {}
        for key in body:
            if key in _READ_ONLY:
                raise _bad(f"The field '{key}' is read-only and cannot be updated.")
            if key in _UNSUPPORTED:
                raise _bad(f"The field '{key}' is not supported by the sandbox store.")
            if (
                key not in _STRINGS
                and key not in _OTHER_WRITABLE
                and key not in _MONEY_SINGLE
                and not any(key in pair for pair in _MONEY_PAIRS.values())
            ):
                raise _bad(f"The field '{key}' is not supported by this resource.")
        for key, (nullable, max_len) in _STRINGS.items():
            if key not in body:
                continue
            value = body[key]
            if value is None and nullable:
                pass
            elif not isinstance(value, str):
                raise _bad(f"The field '{key}' must be a string.")
            elif max_len is not None and len(value) > max_len:
                raise _bad(f"The field '{key}' must be at most {max_len} characters.")
            if key == "external_merchant_id" and current.v2.get(key) not in (None, value):
                raise _bad("The field 'external_merchant_id' cannot be changed once set.")
            changes.append(_set_v2(key, value))
        if "payment_provider_id" in body:
            value = body["payment_provider_id"]
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise _bad("The field 'payment_provider_id' must be a string or a number.")
            changes.append(_set_v2("payment_provider_id", str(value)))
        if "order_is_digital" in body:
            if not isinstance(body["order_is_digital"], bool):
                raise _bad("The field 'order_is_digital' must be a boolean.")
            changes.append(_set_v2("order_is_digital", body["order_is_digital"]))
        for key in ("items_shipped", "items_total"):
            value = body.get(key, 0)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _bad(f"The field '{key}' must be a number.")
        pairs = {name: _pair(body, ex, inc) for name, (ex, inc) in _MONEY_PAIRS.items()}
        singles = {key: _money(body, key) for key in _MONEY_SINGLE if key in body}
        if "status_id" in body:
            sid = body["status_id"]
            if not is_int(sid) or sid not in STATUS_NAMES:
                raise _bad("The field 'status_id' must be an integer between 0 and 14.")
            core["status_id"] = sid
        if "customer_id" in body:
            cid = body["customer_id"]
            if not (is_int(cid) or (isinstance(cid, float) and cid.is_integer())) or cid < 0:
                raise _bad("The field 'customer_id' must be a non-negative integer.")
            core["customer_id"] = int(cid)
        if "channel_id" in body:
            ch = body["channel_id"]
            if not is_int(ch) or ch not in store.channels:
                raise _bad(f"The channel_id {ch!r} does not match a valid and enabled channel.")
            core["channel_id"] = ch
        if "billing_address" in body:
            patch = _address_patch(
                body["billing_address"], "billing_address", {*BASE_ADDRESS_KEYS, "form_fields"}
            )
            changes.append(_merge_billing(patch))
        if "shipping_addresses" in body:
            changes.extend(self._shipping_changes(body["shipping_addresses"], current))
        products_changed = False
        if "products" in body:
            changes.extend(self._product_changes(body["products"], current))
            products_changed = True

        # everything validated: apply
        order = store._materialize(i)
        for change in changes:
            change(order)
        if products_changed:
            order.subtotal_override = None
            order.total_override = None
        sub, tot = pairs["subtotal"], pairs["total"]
        if sub is not None:
            order.subtotal_override = sub
        if tot is not None:
            order.total_override = tot
        if pairs["shipping"] is not None:
            order.shipping = pairs["shipping"]
        if pairs["handling"] is not None:
            order.handling = pairs["handling"]
        if pairs["wrapping"] is not None:
            order.wrapping = pairs["wrapping"]
        base = list(order.base_costs)
        for k, key in enumerate(("base_shipping_cost", "base_handling_cost", "base_wrapping_cost")):
            if key in singles:
                base[k] = singles[key]
        order.base_costs = (base[0], base[1], base[2])
        if "discount_amount" in singles:
            order.discount = singles["discount_amount"]
        if "refunded_amount" in singles:
            order.refunded = singles["refunded_amount"]
        ix = store._index
        if "status_id" in core:
            ix.status[i] = core["status_id"]
        if "customer_id" in core:
            ix.customer[i] = core["customer_id"]
        if body:
            store._touch(i, channel=core.get("channel_id"))
        return json_response(store._seeded.v2_order(i, order, store.v2_api_url))

    def _shipping_changes(self, value: Any, current: Order) -> list[Change]:
        if not isinstance(value, list):
            raise _bad("'shipping_addresses' must be a list.")
        out: list[Change] = []
        known = {a["id"] for a in current.addresses}
        allowed = {*BASE_ADDRESS_KEYS, "form_fields", "shipping_method", "id"}
        for k, item in enumerate(value):
            patch = _address_patch(item, f"shipping_addresses[{k}]", allowed)
            aid = patch.get("id")
            if not is_int(aid):
                raise _bad(
                    f"'shipping_addresses[{k}].id' is required to update a shipping address."
                )
            if aid not in known:
                raise _bad(f"Shipping address {aid} does not belong to this order.")
            fields = {key: v for key, v in patch.items() if key != "id"}

            def apply(o: Order, aid: int = aid, fields: dict[str, Any] = fields) -> None:
                for a in o.addresses:
                    if a["id"] == aid:
                        a.update(fields)

            out.append(apply)
        return out

    def _product_changes(self, value: Any, current: Order) -> list[Change]:
        store = self.store
        if not isinstance(value, list):
            raise _bad("'products' must be a list.")
        out: list[Change] = []
        seen: set[int] = set()
        for k, item in enumerate(value):
            where = f"products[{k}]"
            if not isinstance(item, dict):
                raise _bad(f"'{where}' must be an object.")
            for key in item:
                if key not in _PRODUCT_KEYS:
                    raise _bad(f"The field '{where}.{key}' is not supported.")
            names = {
                key: item[key] for key in ("name", "name_customer", "name_merchant") if key in item
            }
            for key, name in names.items():
                if not isinstance(name, str) or not name.strip():
                    raise _bad(f"'{where}.{key}' must be a non-empty string.")
            if (
                "name" in names
                and "name_customer" in names
                and names["name"] != names["name_customer"]
            ):
                raise _bad(f"'{where}.name' and '{where}.name_customer' must be equal.")
            for key in ("sku", "upc", "wrapping_name", "wrapping_message"):
                if key in item and not isinstance(item[key], str):
                    raise _bad(f"'{where}.{key}' must be a string.")
            prices = _pair(item, "price_ex_tax", "price_inc_tax")
            qty = item.get("quantity")
            if "quantity" in item and (not is_int(qty) or qty < 0):
                raise _bad(f"'{where}.quantity' must be a non-negative integer.")
            if "id" in item:
                line_id = item["id"]
                if not is_int(line_id):
                    raise _bad(f"'{where}.id' must be an integer.")
                line = current.line(line_id)
                if line is None:
                    raise _bad(f"Order product {line_id} does not belong to this order.")
                if line_id in seen:
                    raise _bad(f"Order product {line_id} appears more than once.")
                seen.add(line_id)
                if "product_id" in item and item["product_id"] != line.product_id:
                    raise _bad(
                        f"'{where}.product_id' cannot be changed; add a new product instead."
                    )
                if qty == 0:
                    if line.quantity_shipped:
                        raise _bad(
                            f"Order product {line_id} has shipped items and cannot be removed."
                        )
                    out.append(_remove_line(line_id))
                    continue
                if qty is not None and qty < line.quantity_shipped:
                    raise _bad(
                        f"'{where}.quantity' cannot be below the "
                        f"{line.quantity_shipped} items already shipped."
                    )
                out.append(self._line_update(line_id, item, names, prices))
                continue
            # add a product
            if qty is None or qty < 1:
                raise _bad(f"'{where}.quantity' must be at least 1 when adding a product.")
            pid = item.get("product_id")
            if pid is not None:
                if not is_int(pid):
                    raise _bad(f"'{where}.product_id' must be an integer.")
                prod = next((p for p in store._seeded.catalog if p.product_id == pid), None)
                if prod is None:
                    raise _bad(f"Product {pid} was not found in the catalog.")
                name = names.get("name") or names.get("name_customer") or prod.name
                ex, inc = prices if prices else (prod.price, with_tax(prod.price, current.tax_bp))
                sku = item.get("sku", prod.sku)
                brand, weight, variant = prod.brand, prod.weight, pid * 100
            else:
                name = names.get("name") or names.get("name_customer") or names.get("name_merchant")
                if not name:
                    raise _bad(f"'{where}.name' is required when adding a custom product.")
                if prices is None:
                    raise _bad(
                        f"'{where}.price_ex_tax' and 'price_inc_tax' are required "
                        "for a custom product."
                    )
                ex, inc = prices
                sku = item.get("sku", "")
                brand, weight, variant, pid = "", 0, 0, 0
            new = Line(
                id=0,
                product_id=pid,
                variant_id=variant,
                name=name,
                name_merchant=names.get("name_merchant", name),
                sku=sku,
                upc=item.get("upc", ""),
                brand=brand,
                quantity=qty,
                price_ex=ex,
                price_inc=inc,
                cost=ex * 6 // 10,
                weight=weight,
                address_id=current.addresses[0]["id"],
            )

            def add(o: Order, new: Line = new) -> None:
                new.id = store._next_line_id()
                o.lines.append(new)

            out.append(add)
        return out

    @staticmethod
    def _line_update(
        line_id: int, item: dict[str, Any], names: dict[str, str], prices: tuple[int, int] | None
    ) -> Change:
        def apply(o: Order) -> None:
            ln = _line(o, line_id)
            if "quantity" in item:
                ln.quantity = item["quantity"]
            name = names.get("name") or names.get("name_customer")
            if name:
                ln.name = name
            if "name_merchant" in names:
                ln.name_merchant = names["name_merchant"]
            if prices is not None:
                ln.price_ex, ln.price_inc = prices
            if "sku" in item:
                ln.sku = item["sku"]
            if "upc" in item:
                ln.upc = item["upc"]

        return apply

    # -- POST /orders/{id}/shipments --------------------------------------------------------

    async def create_shipment(self, request: web.Request) -> web.Response:
        """POST /orders/{id}/shipments: validated against addresses and unshipped quantities."""
        store = self.store
        i = self._position(request)
        body = decode_body(await request.read())
        if not isinstance(body, dict):
            raise _bad("The request body must be a JSON object.")
        for key in body:
            if key not in _SHIPMENT_KEYS:
                raise _bad(f"The field '{key}' is not supported by this resource.")
        current = store._view(i)
        aid = body.get("order_address_id")
        if not is_int(aid):
            raise _bad("The field 'order_address_id' is required and must be an integer.")
        address = next((a for a in current.addresses if a["id"] == aid), None)
        if address is None:
            raise _bad(f"The shipping address {aid} does not belong to order {current.bc_id}.")
        items = body.get("items")
        if not isinstance(items, list) or not items:
            raise _bad("The field 'items' is required and must be a non-empty list.")
        wanted: dict[int, int] = {}
        for k, it in enumerate(items):
            if not isinstance(it, dict):
                raise _bad(f"'items[{k}]' must be an object.")
            pid, qty = it.get("order_product_id"), it.get("quantity")
            if not is_int(pid) or not is_int(qty) or qty < 1:
                raise _bad(f"'items[{k}]' needs an integer order_product_id and a quantity >= 1.")
            line = current.line(pid)
            if line is None:
                raise _bad(f"Order product {pid} does not belong to order {current.bc_id}.")
            if line.address_id != aid:
                raise _bad(f"Order product {pid} does not ship to address {aid}.")
            wanted[pid] = wanted.get(pid, 0) + qty
            if wanted[pid] > line.quantity - line.quantity_shipped:
                raise _bad(
                    f"Quantity {wanted[pid]} for order product {pid} exceeds the "
                    f"{line.quantity - line.quantity_shipped} items not yet shipped."
                )
        strings: dict[str, str] = {}
        for key, max_len in (
            ("tracking_number", 50),
            ("shipping_provider", None),
            ("tracking_carrier", None),
            ("shipping_method", None),
            ("comments", 65535),
            ("tracking_link", 500),
        ):
            value = body.get(key, "")
            if value is None:
                value = ""
            if not isinstance(value, str):
                raise _bad(f"The field '{key}' must be a string.")
            if max_len is not None and len(value) > max_len:
                raise _bad(f"The field '{key}' must be at most {max_len} characters.")
            strings[key] = value
        provider = strings["shipping_provider"]
        if provider not in PROVIDERS and not _CARRIER_RE.match(provider):
            raise _bad(f"'{provider}' is not a valid shipping_provider.")
        cost = 0
        if "merchant_shipping_cost" in body:
            cost = _money(body, "merchant_shipping_cost")

        order = store._materialize(i)
        ix = store._index
        for pid, qty in wanted.items():
            _line(order, pid).quantity_shipped += qty
        shipment = make_shipment(
            shipment_id=store._next_shipment_id(),
            order=order,
            customer_id=ix.customer[i],
            address=next(a for a in order.addresses if a["id"] == aid),
            created=store._now(),
            items=[
                {"order_product_id": pid, "product_id": _line(order, pid).product_id, "quantity": q}
                for pid, q in wanted.items()
            ],
            tracking_number=strings["tracking_number"],
            shipping_provider=provider,
            tracking_carrier=strings["tracking_carrier"],
            shipping_method=strings["shipping_method"] or "None",
            tracking_link=strings["tracking_link"],
            comments=strings["comments"],
            merchant_shipping_cost=cost,
        )
        order.shipments.append(shipment)
        # Like the control panel's "Ship Items": the order follows its shipments.
        if all(ln.quantity_shipped >= ln.quantity for ln in order.lines):
            ix.status[i] = 2
            order.date_shipped = store._now()
        else:
            ix.status[i] = 3
        store._touch(i)
        return json_response(shipment, status=201)


def _set_v2(key: str, value: Any) -> Change:
    def apply(o: Order) -> None:
        o.v2[key] = value

    return apply


def _merge_billing(patch: dict[str, Any]) -> Change:
    def apply(o: Order) -> None:
        o.billing.update(patch)

    return apply


def _remove_line(line_id: int) -> Change:
    def apply(o: Order) -> None:
        o.lines.remove(_line(o, line_id))

    return apply


def _line(order: Order, line_id: int) -> Line:
    line = order.line(line_id)
    if line is None:  # pragma: no cover - validated before applying
        raise KeyError(line_id)
    return line
