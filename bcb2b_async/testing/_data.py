"""Seeded store data: the generated core columns and the records derived from them.

Only a handful of integers per order are stored (see :mod:`._index`). Everything
else -- products, addresses, prices, PO numbers, cart ids -- is derived from the
order id and the seed with a 64-bit hash whenever it is needed, so the same order
always renders the same way. An order is *materialized* into an :class:`Order`
object the first time something changes it; from then on that object is the
source of truth for its non-core fields.
"""

from __future__ import annotations

import math
import random
import time
from array import array
from dataclasses import dataclass, field
from typing import Any

from ._index import ID_BASE, OrderIndex
from ._util import (
    CUSTOM_STATUS,
    DAY,
    MONEY_SCALE,
    STATUS_NAMES,
    YEAR,
    mix,
    money,
    money_float,
    rfc2822,
    uuid_from,
    with_tax,
)

B2B_ID_OFFSET = 50_000
ADDRESS_ID_BASE = 10_000_000  # shipping address id = ADDRESS_ID_BASE + bcOrderId
LINE_ID_FACTOR = 8  # seeded order product id = bcOrderId * 8 + line number
LONG_LINE_ID_BASE = 2_000_000_000  # long seeded order: id = base + bcOrderId * 128 + line
LONG_LINES = (51, 120)  # line count range of a long seeded order
EXTRA_ADDRESS_ID_BASE = 200_000_000  # created orders' extra shipping addresses
LATE_B2B_SHARE = 0.01  # with lags: company orders whose B2B record came days later
#: The ``__warning__`` BigCommerce puts on a consignment whose line items were cut short
#: (bigcommerce/docs issue 960).
LINE_CAP_WARNING = (
    "Not all line items of this consignment are returned with this response, only {cap} "
    "are included. Please use the `/v2/orders/{{order_id}}/products` endpoint to fetch all "
    "line items."
)
ADDED_LINE_ID_START = 4_000_000_000
ADDED_SHIPMENT_ID_START = 50_000_000
COMPANY_USERS = 5  # BigCommerce customers per company
COMPANY_CUSTOMER_BASE = 1_000

#: currency code -> (id, USD rate, money display settings)
CURRENCIES: dict[str, tuple[int, float, dict[str, Any]]] = {
    "USD": (
        1,
        1.0,
        {
            "currencyLocation": "left",
            "currencyToken": "$",
            "decimalToken": ".",
            "decimalPlaces": 2,
            "thousandsToken": ",",
        },
    ),
    "EUR": (
        2,
        1.08,
        {
            "currencyLocation": "right",
            "currencyToken": "€",
            "decimalToken": ",",
            "decimalPlaces": 2,
            "thousandsToken": ".",
        },
    ),
    "GBP": (
        3,
        1.27,
        {
            "currencyLocation": "left",
            "currencyToken": "£",
            "decimalToken": ".",
            "decimalPlaces": 2,
            "thousandsToken": ",",
        },
    ),
    "CAD": (
        4,
        0.74,
        {
            "currencyLocation": "left",
            "currencyToken": "C$",
            "decimalToken": ".",
            "decimalPlaces": 2,
            "thousandsToken": ",",
        },
    ),
}
_TAX_BP: dict[str, tuple[int, ...]] = {
    "USD": (0, 625, 725, 825),
    "EUR": (1900, 2000, 2100, 2000),
    "GBP": (2000, 2000, 2000, 0),
    "CAD": (500, 1300, 1300, 1500),
}
_COUNTRY: dict[str, tuple[tuple[str, str, str, str, str], ...]] = {
    # (city, state, zip, country, iso2)
    "USD": (
        ("Austin", "Texas", "78751", "United States", "US"),
        ("Denver", "Colorado", "80202", "United States", "US"),
        ("Columbus", "Ohio", "43215", "United States", "US"),
        ("Portland", "Oregon", "97205", "United States", "US"),
        ("Raleigh", "North Carolina", "27601", "United States", "US"),
        ("Phoenix", "Arizona", "85004", "United States", "US"),
    ),
    "EUR": (
        ("Berlin", "Berlin", "10115", "Germany", "DE"),
        ("Lyon", "Auvergne-Rhône-Alpes", "69002", "France", "FR"),
        ("Utrecht", "Utrecht", "3511", "Netherlands", "NL"),
    ),
    "GBP": (
        ("Manchester", "Greater Manchester", "M1 1AE", "United Kingdom", "GB"),
        ("Leeds", "West Yorkshire", "LS1 4AP", "United Kingdom", "GB"),
    ),
    "CAD": (
        ("Toronto", "Ontario", "M5H 2N2", "Canada", "CA"),
        ("Calgary", "Alberta", "T2P 1J9", "Canada", "CA"),
    ),
}
_FIRST = (
    "Jane",
    "John",
    "Maria",
    "Wei",
    "Amara",
    "Luca",
    "Sofia",
    "Noah",
    "Priya",
    "Kenji",
    "Elena",
    "Omar",
    "Grace",
    "Mateo",
    "Hana",
    "Liam",
    "Chloe",
    "Ravi",
    "Ingrid",
    "Tomas",
)
_LAST = (
    "Doe",
    "Smith",
    "Garcia",
    "Chen",
    "Okafor",
    "Rossi",
    "Novak",
    "Kim",
    "Patel",
    "Sato",
    "Ivanova",
    "Haddad",
    "Murphy",
    "Silva",
    "Tanaka",
    "Berg",
    "Dubois",
    "Nair",
    "Larsen",
    "Costa",
)
_STREETS = (
    "Main Street",
    "Oak Avenue",
    "Industrial Way",
    "Commerce Drive",
    "Harbor Road",
    "Market Street",
    "Elm Court",
    "Riverside Blvd",
)
_COMPANY_WORDS = (
    "Summit",
    "Harbor",
    "Pioneer",
    "Granite",
    "Evergreen",
    "Atlas",
    "Beacon",
    "Cedar",
    "Keystone",
    "Meridian",
    "Northstar",
    "Redwood",
)
_COMPANY_KINDS = (
    "Supply Co.",
    "Industries",
    "Wholesale",
    "Logistics",
    "Manufacturing",
    "Distributors",
    "Trading LLC",
    "Group",
)
_ADJECTIVES = ("Heavy-Duty", "Compact", "Industrial", "Premium", "Eco", "Classic", "Pro", "Modular")
_NOUNS = (
    "Planter",
    "Shelving Unit",
    "Pallet Jack",
    "Safety Gloves",
    "LED Panel",
    "Storage Bin",
    "Workbench",
    "Hand Truck",
    "Label Printer",
    "Packing Tape",
    "Stretch Wrap",
    "Hard Hat",
    "Floor Mat",
    "Tool Chest",
    "Air Compressor",
    "Drill Set",
)
_BRANDS = (
    "Rustic Roots",
    "Acme Supply",
    "Northwind",
    "Contoso Tools",
    "Globex",
    "Initech",
    "Umbrella Goods",
    "Stark Industrial",
)
_OPTIONS: tuple[tuple[str, str, tuple[str, ...]] | None, ...] = (
    None,
    ("Color", "Swatch", ("Slate", "Black", "White", "Red")),
    ("Size", "Rectangle", ("S", "M", "L", "XL")),
    None,
)
_PAYMENT = ("Credit Card", "Credit Card", "Invoice", "PayPal", "Manual", "Cash on Delivery")
_SOURCES = ("www", "www", "www", "manual", "external", "checkout_api")
_MESSAGES = (
    "",
    "",
    "",
    "",
    "Please deliver to the loading dock.",
    "Call before delivery.",
    "Leave at reception.",
)
PROVIDERS = (
    "auspost",
    "canadapost",
    "endicia",
    "usps",
    "fedex",
    "ups",
    "upsready",
    "upsonline",
    "shipperhq",
    "royalmail",
    "",
)
_TRACK_LINKS = {
    "usps": "https://tools.usps.com/go/TrackConfirmAction?tLabels={}",
    "ups": "https://www.ups.com/track?tracknum={}",
    "fedex": "https://www.fedex.com/fedextrack/?trknbr={}",
    "royalmail": "https://www.royalmail.com/track-your-item#/tracking-results/{}",
    "canadapost": "https://www.canadapost-postescanada.ca/track-reperage/en#/details/{}",
    "auspost": "https://auspost.com.au/mypost/track/#/details/{}",
}
_PROVIDER_NAMES = {
    "usps": "USPS",
    "ups": "UPS",
    "fedex": "FedEx",
    "royalmail": "Royal Mail",
    "canadapost": "Canada Post",
    "auspost": "Australia Post",
    "endicia": "Endicia",
    "shipperhq": "ShipperHQ",
    "upsready": "UPS Ready",
    "upsonline": "UPS Online",
}

# status weights for orders older than 60 days and for recent ones
_OLD_STATUS = (
    (10, 46),
    (2, 18),
    (5, 6),
    (4, 4),
    (14, 2),
    (3, 2),
    (6, 2),
    (13, 1),
    (11, 4),
    (7, 5),
    (9, 3),
    (8, 2),
    (12, 1),
    (1, 2),
    (0, 2),
)
_NEW_STATUS = (
    (11, 22),
    (7, 16),
    (9, 10),
    (1, 8),
    (2, 14),
    (3, 4),
    (10, 12),
    (8, 4),
    (12, 2),
    (5, 3),
    (6, 2),
    (0, 3),
)

_SHIPPED_STATUSES = (2, 3)


_CHANNEL_NAMES = {1: "B2B Store", 2: "Retail Storefront", 3: "Wholesale EU"}


def channel_name(channel_id: int) -> str:
    """Display name of a sandbox channel."""
    name = _CHANNEL_NAMES.get(channel_id)
    return name if name is not None else f"Channel {channel_id}"


def company_of_customer(customer_id: int, companies: int) -> int:
    """The company a BigCommerce customer belongs to (0 when not a company user)."""
    k = customer_id - COMPANY_CUSTOMER_BASE
    if k < 0 or k >= companies * COMPANY_USERS:
        return 0
    return k // COMPANY_USERS + 1


def first_customer_of(company_id: int) -> int:
    """The first company user (customer id) of a company."""
    return COMPANY_CUSTOMER_BASE + (company_id - 1) * COMPANY_USERS


def payment_status(status: int) -> str:
    """A payment status consistent with an order status."""
    if status in (2, 3, 9, 10, 11, 8):
        return "captured"
    if status == 4:
        return "refunded"
    if status == 14:
        return "partially refunded"
    if status == 5:
        return "void"
    if status == 6:
        return "declined"
    if status in (7, 1, 0):
        return "pending"
    return "authorized"


@dataclass(slots=True)
class CatalogProduct:
    """One product of the seeded catalog."""

    product_id: int
    name: str
    brand: str
    sku: str
    price: int  # units ex tax
    weight: int  # units
    option: tuple[str, str, tuple[str, ...]] | None


@dataclass(slots=True)
class Line:
    """One order product (line item)."""

    id: int
    product_id: int
    variant_id: int
    name: str
    name_merchant: str
    sku: str
    upc: str
    brand: str
    quantity: int
    price_ex: int
    price_inc: int
    cost: int
    weight: int
    address_id: int
    quantity_shipped: int = 0
    options: list[dict[str, Any]] = field(default_factory=list)
    option_set_id: int | None = None


@dataclass(slots=True)
class Summary:
    """The fields a B2B list item needs beyond the core columns."""

    po_number: str
    extra_fields: list[dict[str, str]]
    extra_info: list[dict[str, int]]
    items: int
    total_inc: int
    currency: str
    cart_id: str
    archived: bool


@dataclass(slots=True)
class Order:
    """A fully materialized order (everything except the core columns)."""

    bc_id: int
    lines: list[Line]
    addresses: list[dict[str, Any]]
    billing: dict[str, Any]
    shipments: list[dict[str, Any]]
    po_number: str
    extra_fields: list[dict[str, str]]
    extra_info: list[dict[str, int]]
    currency: str
    tax_bp: int
    cart_id: str
    archived: bool
    invoice: tuple[int, int | None, int | None, int | None]
    shipping: tuple[int, int]
    handling: tuple[int, int] = (0, 0)
    wrapping: tuple[int, int] = (0, 0)
    base_costs: tuple[int, int, int] = (0, 0, 0)  # base shipping, handling, wrapping
    discount: int = 0
    refunded: int = 0
    subtotal_override: tuple[int, int] | None = None
    total_override: tuple[int, int] | None = None
    date_shipped: int | None = None
    v2: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> Summary:
        """The B2B list fields of this order."""
        t = self.totals()
        return Summary(
            self.po_number,
            self.extra_fields,
            self.extra_info,
            t["items_total"],
            t["total_inc"],
            self.currency,
            self.cart_id,
            self.archived,
        )

    def totals(self) -> dict[str, int]:
        """Money totals in units, honouring explicit overrides."""
        sub_ex = sum(ln.quantity * ln.price_ex for ln in self.lines)
        sub_inc = sum(ln.quantity * ln.price_inc for ln in self.lines)
        if self.subtotal_override is not None:
            sub_ex, sub_inc = self.subtotal_override
        total_ex = sub_ex + self.shipping[0] + self.handling[0] + self.wrapping[0] - self.discount
        total_inc = sub_inc + self.shipping[1] + self.handling[1] + self.wrapping[1] - self.discount
        if self.total_override is not None:
            total_ex, total_inc = self.total_override
        return {
            "sub_ex": sub_ex,
            "sub_inc": sub_inc,
            "total_ex": max(total_ex, 0),
            "total_inc": max(total_inc, 0),
            "items_total": sum(ln.quantity for ln in self.lines),
            "items_shipped": sum(ln.quantity_shipped for ln in self.lines),
        }

    def line(self, line_id: int) -> Line | None:
        """The line with this order product id, if any."""
        for ln in self.lines:
            if ln.id == line_id:
                return ln
        return None


def extra_field_configs(required: bool) -> list[dict[str, Any]]:
    """The seeded order extra field configurations (GET /orders/extra-fields)."""
    rows: list[tuple[str, int, dict[str, Any]]] = [
        ("Fintech ID", 0, {"maximumLength": 100, "isRequired": required}),
        ("Cost Center", 0, {"maximumLength": 20}),
        ("Delivery Instructions", 1, {"numberOfRows": 5}),
        ("Approval Level", 2, {"maximumValue": 10}),
        ("Department", 3, {"listOfValues": ["Operations", "Facilities", "IT", "Finance"]}),
        ("Project Code", 0, {"maximumLength": 32}),
        ("ERP Reference", 0, {"maximumLength": 64, "isUnique": True}),
    ]
    out: list[dict[str, Any]] = []
    for k, (name, ftype, extra) in enumerate(rows):
        rec: dict[str, Any] = {
            "id": 9790 + k,
            "uuid": 123450 + k,
            "fieldName": name,
            "fieldType": ftype,
            "isRequired": False,
            "isUnique": False,
            "visibleToEnduser": k != 6,
            "configType": 2,
            "defaultValue": "",
            "labelName": name,
            "maximumLength": None,
            "numberOfRows": None,
            "maximumValue": None,
            "listOfValues": [],
        }
        rec.update(extra)
        out.append(rec)
    return out


def _pick(weights: tuple[tuple[int, int], ...], r: float) -> int:
    total = sum(w for _, w in weights)
    x = r * total
    for value, w in weights:
        x -= w
        if x < 0:
            return value
    return weights[-1][0]


def _times(
    rnd: random.Random, count: int, start: int, end: int, bursts: list[tuple[int, int]]
) -> list[int]:
    """``count`` non-decreasing timestamps in [start, end] with many ties.

    ``bursts`` lists (position, length) runs that must share one second.
    """
    if count == 0:
        return []
    r = rnd.random
    weights = [0.0 if r() < 0.25 else -math.log(1.0 - r()) for _ in range(count)]
    weights[0] = 0.0
    for pos, length in bursts:
        for k in range(pos + 1, min(count, pos + length)):
            weights[k] = 0.0
    total = sum(weights) or 1.0
    span = end - start
    out: list[int] = []
    acc = 0.0
    scale = span / total
    for w in weights:
        acc += w
        out.append(start + min(span, int(acc * scale)))
    return out


def generate(
    n: int,
    *,
    seed: int,
    now: int,
    channels: tuple[int, ...],
    companies: int,
    old_fraction: float,
    b2b_share: float = 1.0,
    lag: bool = False,
    late_share: float = LATE_B2B_SHARE,
) -> OrderIndex:
    """Build the core columns of ``n`` seeded orders relative to ``now``.

    ``b2b_share < 1`` turns the other orders into consumer orders (V2 only, no company);
    ``lag`` gives every B2B order a seeded delay between the store order and its B2B
    record (see :func:`b2b_lag`). Neither changes the draws of the default store.
    """
    rnd = random.Random(seed)
    r = rnd.random
    n_old = min(n, max(0, round(n * old_fraction)))
    # Some orders were created more than a year ago but updated recently: they are inside the
    # default one-year window only because of updatedAt.
    n_mid = min(n - n_old, round(n * 0.05)) if n_old else 0
    n_seg_old = n_old + n_mid
    n_new = n - n_seg_old

    def bursts_for(count: int, big: bool) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        if count < 10:
            return out
        if big:
            length = 300 if n >= 5000 else max(2, min(50, count // 20))
            out.append((int(count * (0.35 + 0.3 * r())), length))
        for _ in range(max(1, count // 2000)):
            out.append((int(count * r()), 2 + int(38 * r())))
        return out

    created = _times(
        rnd, n_seg_old, now - 730 * DAY, now - YEAR - 2 * DAY, bursts_for(n_seg_old, False)
    )
    created += _times(rnd, n_new, now - YEAR + 2 * DAY, now - 120, bursts_for(n_new, True))

    mid = set(rnd.sample(range(n_seg_old), n_mid)) if n_mid else set()
    old_limit = now - YEAR - DAY  # old orders are never updated after this
    updated: list[int] = []
    for i, c in enumerate(created):
        if i < n_seg_old:
            if i in mid:
                u = now - YEAR + 2 * DAY + int(r() * (YEAR - 3 * DAY))
            elif r() < 0.45:
                u = c
            else:
                u = c + int(r() * max(0, min(30 * DAY, old_limit - c)))
        else:
            u = c if r() < 0.45 else c + int(r() * max(0, min(20 * DAY, now - 1 - c)))
        updated.append(max(u, c))
    if n_new >= 1000:
        # A bulk status job touched a few hundred recent orders in the very same second.
        when = now - 2 * DAY
        pool = [i for i in range(n_seg_old, n) if created[i] < when]
        for i in rnd.sample(pool, min(len(pool), 260)):
            updated[i] = max(updated[i], when)

    nch = len(channels)
    channel = array("q", bytes(8 * n))
    company = array("q", bytes(8 * n))
    customer = array("q", bytes(8 * n))
    status = array("b", bytes(n))
    first = channels[0]
    for i in range(n):
        x = r()
        if nch > 1 and x >= 0.7:
            channel[i] = channels[1 + int((x - 0.7) / 0.3 * (nch - 1)) % (nch - 1)]
        else:
            channel[i] = first
        y = r()
        if y < 0.05 or (companies == 0 and y < 0.25):
            cust, comp = 0, 0  # guest checkout
        elif y < 0.22 or companies == 0:
            cust, comp = 1 + int(r() * 999), 0  # B2C customer
        else:
            comp = 1 + int(companies * r() ** 1.6)
            cust = COMPANY_CUSTOMER_BASE + (comp - 1) * COMPANY_USERS + int(r() * COMPANY_USERS)
            if r() < 0.03:
                comp = 0  # placed before the buyer joined the company
        customer[i] = cust
        company[i] = comp
        status[i] = _pick(_OLD_STATUS if now - created[i] > 60 * DAY else _NEW_STATUS, r())
    b2b: array[int] | None = None
    if b2b_share < 1:
        b2b = array("b", bytes(n))
        for i in range(n):
            if in_b2b_list(seed, i, b2b_share):
                b2b[i] = 1
            else:
                company[i] = 0
                customer[i] = consumer_customer(seed, i)
    lags: array[int] | None = None
    if lag:
        lags = array("i", bytes(4 * n))
        for i in range(n):
            if b2b is None or b2b[i]:
                lags[i] = b2b_lag(seed, i, company[i], late=True, late_share=late_share)
    return OrderIndex(
        array("q", created),
        array("q", updated),
        channel,
        company,
        customer,
        status,
        b2b=b2b,
        lag=lags,
    )


def _unit(seed: int, i: int, salt: int) -> float:
    """A seeded uniform draw in [0, 1) for order position ``i``."""
    return (mix((seed * 0x2545F4914F6CDD1D) ^ salt ^ ((i + 1) * 0x9E3779B97F4A7C15)) >> 11) / (
        1 << 53
    )


def in_b2b_list(seed: int, i: int, share: float) -> bool:
    """Whether order position ``i`` is a B2B order when ``share`` of the orders are."""
    return share >= 1 or _unit(seed, i, 0xB2C0FFEE) < share


def consumer_customer(seed: int, i: int) -> int:
    """The customer of a consumer order: a guest (0) or a B2C customer (1..999)."""
    h = mix(seed ^ ((i + 7) * 0xC2B2AE3D27D4EB4F))
    return 0 if h % 5 == 0 else 1 + (h >> 8) % 999


def b2b_lag(seed: int, i: int, company: int, *, late: bool,
            late_share: float = LATE_B2B_SHARE) -> int:
    """Seconds between a store order and its B2B record: 0..10 (Create Order attaches the
    B2B data up to 10 s later) and, when ``late``, for ``late_share`` (~1%) of company
    orders 1..180 days (an older order assigned to its company later)."""
    h = mix(seed * 0x100000001B3 ^ ((i + 3) * 0x9E3779B97F4A7C15))
    small = h % 11
    if late and company and ((h >> 8) % 10_000) < late_share * 10_000:
        return small + DAY * (1 + (h >> 24) % 180)
    return small


def catalog_line(
    prod: CatalogProduct, variant: int, qty: int, line_id: int, address_id: int, tax_bp: int
) -> Line:
    """An order line of a catalog product (and option value ``variant``)."""
    price = prod.price + variant * 5_000
    options: list[dict[str, Any]] = []
    option_set_id = None
    sku = prod.sku
    if prod.option is not None:
        oname, style, values = prod.option
        sku = f"{prod.sku}-{values[variant][:2].upper()}"
        option_set_id = 10 + prod.product_id % 7
        options.append(
            {
                "id": line_id * 4,
                "option_id": 40 + len(oname),
                "order_product_id": line_id,
                "product_option_id": prod.product_id * 10 + 1,
                "display_name": oname,
                "display_name_customer": oname,
                "display_name_merchant": oname,
                "display_value": values[variant],
                "display_value_customer": values[variant],
                "display_value_merchant": values[variant],
                "value": str(18_000 + prod.product_id * 10 + variant),
                "type": "Multiple choice",
                "name": f"{oname}{prod.product_id}",
                "display_style": style,
            }
        )
    return Line(
        id=line_id,
        product_id=prod.product_id,
        variant_id=prod.product_id * 100 + variant,
        name=prod.name,
        name_merchant=prod.name,
        sku=sku,
        upc=f"0{prod.product_id:05d}{variant:03d}{(prod.product_id * 7) % 1000:03d}",
        brand=prod.brand,
        quantity=qty,
        price_ex=price,
        price_inc=with_tax(price, tax_bp),
        cost=price * 6 // 10,
        weight=prod.weight,
        address_id=address_id,
        options=options,
        option_set_id=option_set_id,
    )


class Seeded:
    """Derives every non-core field of an order from its id and the seed."""

    def __init__(
        self,
        index: OrderIndex,
        *,
        seed: int,
        built_at: int,
        companies: int,
        long_share: float = 0.0,
        empty_share: float = 0.0,
    ) -> None:
        self.index = index
        self.seed = seed
        self.built_at = built_at
        self.companies = companies
        self.long_share = long_share
        self.empty_share = empty_share
        self._salt = mix(seed * 0x1000193 + 0x5EED)
        rnd = random.Random(seed * 7919 + 17)
        self.catalog: list[CatalogProduct] = []
        for k in range(48):
            noun = _NOUNS[k % len(_NOUNS)]
            adj = _ADJECTIVES[(k * 5 + k // len(_NOUNS)) % len(_ADJECTIVES)]
            brand = _BRANDS[rnd.randrange(len(_BRANDS))]
            price = rnd.choice((4, 9, 19, 29, 49, 89, 149, 299, 649)) * MONEY_SCALE
            price += rnd.randrange(0, 100, 1) * 100
            initials = "".join(w[0] for w in f"{adj} {noun}".replace("-", " ").split()).upper()
            self.catalog.append(
                CatalogProduct(
                    product_id=101 + k,
                    name=f"{adj} {noun}",
                    brand=brand,
                    sku=f"{initials}-{101 + k}",
                    price=price,
                    weight=(1 + rnd.randrange(40)) * 2500,
                    option=_OPTIONS[k % len(_OPTIONS)],
                )
            )

    # -- hashing ------------------------------------------------------------------------

    def order_hash(self, bc_id: int) -> int:
        """The 64-bit hash all derived fields of an order come from."""
        return mix(self._salt ^ (bc_id * 0x9E3779B1))

    def is_long(self, h: int) -> bool:
        """Whether the seeded order with hash ``h`` has 51..120 lines."""
        return self.long_share > 0 and (mix(h ^ 0x10A6) >> 11) / (1 << 53) < self.long_share

    def empty_embedded(self, bc_id: int) -> bool:
        """Whether the order's embedded consignment ``line_items`` come back empty
        (bigcommerce/dev-docs issue 2052), decided once per order from the seed."""
        if self.empty_share <= 0:
            return False
        return (mix(self.order_hash(bc_id) ^ 0xE3B7) >> 11) / (1 << 53) < self.empty_share

    def _long_specs(self, h: int) -> list[tuple[CatalogProduct, int, int]]:
        rnd = random.Random(h)
        catalog = self.catalog
        specs = []
        for _ in range(LONG_LINES[0] + rnd.randrange(LONG_LINES[1] - LONG_LINES[0] + 1)):
            prod = catalog[rnd.randrange(len(catalog))]
            variant = rnd.randrange(len(prod.option[2])) if prod.option else 0
            specs.append((prod, variant, 1 + rnd.randrange(5)))
        return specs

    def _line_specs(self, h: int) -> list[tuple[CatalogProduct, int, int]]:
        if self.long_share > 0 and self.is_long(h):
            return self._long_specs(h)
        # Two hashes give 16 bits of product/variant and 16 bits of quantity per line.
        picks = mix(h ^ 0x51ED)
        qtys = mix(picks)
        catalog = self.catalog
        n_cat = len(catalog)
        specs = []
        for j in range((h & 3) + 1):
            b = (picks >> (16 * j)) & 0xFFFF
            prod = catalog[((b >> 4) * n_cat) >> 12]
            variant = (b & 0xF) % len(prod.option[2]) if prod.option else 0
            q = (qtys >> (16 * j)) & 0xFF
            qty = 1 + q % 5 if q < 200 else 6 + q % 45
            specs.append((prod, variant, qty))
        return specs

    @staticmethod
    def _currency(h: int) -> str:
        c = (h >> 2) & 0xFF
        if c < 218:
            return "USD"
        if c < 236:
            return "EUR"
        if c < 248:
            return "GBP"
        return "CAD"

    @staticmethod
    def _shipping_ex(h: int) -> int:
        return (0, 49_900, 99_900, 149_900, 249_900)[(h >> 13) % 5]

    def _po_number(self, h: int, created: int, company: int, customer: int) -> str:
        if company == 0 and (customer == 0 or (h >> 24) % 5):
            return ""
        if company and (h >> 24) % 10 == 0:
            return ""
        t = time.gmtime(created)
        return f"{t.tm_mon:02d}{t.tm_mday:02d}{t.tm_year}-{(h >> 28) % 10000:04d}"

    @staticmethod
    def _extra_fields(h: int, company: int) -> list[dict[str, str]]:
        if company == 0 or (h >> 50) & 3 == 0:
            return []
        return [
            {
                "fieldName": "Fintech ID",
                "fieldValue": str(1_000_000_000 + (h >> 30) % 8_999_999_999),
            },
            {"fieldName": "Cost Center", "fieldValue": f"CC-{100 + (h >> 40) % 900}"},
        ]

    @staticmethod
    def _extra_info(h: int, company: int) -> list[dict[str, int]]:
        if company == 0:
            return []
        return [
            {
                "billingAddressId": 5000 + company * 3,
                "shippingAddressId": 5001 + company * 3 + ((h >> 52) & 1),
            }
        ]

    @staticmethod
    def _invoice(h: int, bc: int, company: int) -> tuple[int, int | None, int | None, int | None]:
        if company and (h >> 58) % 30 == 0:
            return (1, 7000 + bc, 20_000_000 + bc, (h >> 60) % 3)
        return (0, None, None, None)

    def _cart_id(self, h: int) -> str:
        return uuid_from(mix(h ^ 0xCA27), mix(h ^ 0x1D5))

    # -- summaries and full derivation ---------------------------------------------------

    def summary(self, i: int) -> Summary:
        """B2B list fields of an order that has never been changed."""
        ix = self.index
        bc = i + ID_BASE
        h = self.order_hash(bc)
        cur = self._currency(h)
        tax = _TAX_BP[cur][(h >> 10) & 3]
        items = 0
        sub_inc = 0
        for prod, variant, qty in self._line_specs(h):
            items += qty
            sub_inc += qty * with_tax(prod.price + variant * 5_000, tax)
        company = ix.company[i]
        return Summary(
            self._po_number(h, ix.created[i], company, ix.customer[i]),
            self._extra_fields(h, company),
            self._extra_info(h, company),
            items,
            sub_inc + with_tax(self._shipping_ex(h), tax),
            cur,
            self._cart_id(h),
            (h >> 56) % 100 == 0,
        )

    def person(self, key: int) -> tuple[str, str]:
        """A deterministic (first, last) name."""
        hk = mix(self._salt ^ (key * 0x2545F491))
        return _FIRST[hk % len(_FIRST)], _LAST[(hk >> 8) % len(_LAST)]

    def company_name(self, company: int) -> str:
        """A deterministic company name."""
        hk = mix(self._salt ^ (company * 0x61C88647))
        return f"{_COMPANY_WORDS[hk % len(_COMPANY_WORDS)]} {_COMPANY_KINDS[(hk >> 8) % 8]}"

    def _address(self, key: int, cur: str, company: int) -> dict[str, Any]:
        hk = mix(self._salt ^ (key * 0x5851F42D))
        first, last = self.person(key)
        city, state, zip_, country, iso2 = _COUNTRY[cur][hk % len(_COUNTRY[cur])]
        return {
            "first_name": first,
            "last_name": last,
            "company": self.company_name(company) if company else "",
            "street_1": f"{1 + (hk >> 8) % 9899} {_STREETS[(hk >> 24) % len(_STREETS)]}",
            "street_2": "" if (hk >> 28) % 4 else f"Suite {100 + (hk >> 32) % 800}",
            "city": city,
            "state": state,
            "zip": zip_,
            "country": country,
            "country_iso2": iso2,
            "phone": f"555-{(hk >> 36) % 900 + 100:03d}-{(hk >> 46) % 9000 + 1000:04d}",
            "email": f"{first}.{last}{key % 1000}@example.com".lower(),
        }

    def derive(self, i: int) -> Order:
        """Materialize every field of an order from its id, the seed and its core columns."""
        ix = self.index
        bc = i + ID_BASE
        h = self.order_hash(bc)
        cur = self._currency(h)
        tax = _TAX_BP[cur][(h >> 10) & 3]
        company = ix.company[i]
        customer = ix.customer[i]
        created = ix.created[i]
        status = ix.status[i]
        addr_id = ADDRESS_ID_BASE + bc
        lines: list[Line] = []
        specs = self._line_specs(h)
        first_line = LONG_LINE_ID_BASE + bc * 128 if len(specs) > 4 else bc * LINE_ID_FACTOR
        for j, (prod, variant, qty) in enumerate(specs):
            lines.append(catalog_line(prod, variant, qty, first_line + j, addr_id, tax))
        ship_person = customer if customer and (h >> 44) % 4 else bc * 31 + 7
        address = self._address(ship_person, cur, company)
        address.update(
            {
                "id": addr_id,
                "shipping_method": (
                    "Free Shipping",
                    "Flat Rate",
                    "UPS Ground",
                    "FedEx 2Day",
                    "Fixed Shipping",
                )[(h >> 13) % 5],
                "form_fields": [],
            }
        )
        billing = self._address(customer if customer else bc * 31 + 7, cur, company)
        billing["form_fields"] = (
            [{"name": "Delivery Instructions", "value": "Leave at the loading dock"}]
            if company and (h >> 45) % 3 == 0
            else []
        )
        shipping_ex = self._shipping_ex(h)
        invoice = self._invoice(h, bc, company)
        po = self._po_number(h, created, company, customer)
        order = Order(
            bc_id=bc,
            lines=lines,
            addresses=[address],
            billing=billing,
            shipments=[],
            po_number=po,
            extra_fields=self._extra_fields(h, company),
            extra_info=self._extra_info(h, company),
            currency=cur,
            tax_bp=tax,
            cart_id=self._cart_id(h),
            archived=(h >> 56) % 100 == 0,
            invoice=invoice,
            shipping=(shipping_ex, with_tax(shipping_ex, tax)),
            base_costs=(shipping_ex, 0, 0),
            v2={
                "staff_notes": "" if (h >> 33) % 6 else f"BIN-{(h >> 35) % 90 + 10}",
                "customer_message": _MESSAGES[(h >> 38) % len(_MESSAGES)],
                "payment_method": _PAYMENT[(h >> 41) % len(_PAYMENT)],
                "payment_provider_id": "" if (h >> 41) % 6 >= 4 else f"ch_{(h >> 20):x}",
                "order_source": _SOURCES[(h >> 47) % len(_SOURCES)],
                "ebay_order_id": "0",
                "external_source": None,
                "external_id": None,
                "external_merchant_id": None,
                "external_order_id": None,
                "geoip_country": address["country"],
                "geoip_country_iso2": address["country_iso2"],
                "ip_address": f"203.0.{(h >> 48) % 256}.{(h >> 40) % 254 + 1}",
                "ip_address_v6": "",
                "customer_locale": "en",
                "is_email_opt_in": bool((h >> 53) & 1),
                "order_is_digital": False,
                "credit_card_type": None,
                "tax_provider_id": "BasicTaxProvider",
            },
        )
        if status in _SHIPPED_STATUSES:
            shipped_at = max(created, min(created + 3600 * (2 + (h >> 54) % 70), self.built_at))
            items: list[dict[str, int]] = []
            for j, ln in enumerate(lines):
                if status == 2:
                    qty = ln.quantity
                elif len(lines) > 1:
                    qty = ln.quantity if j == 0 else 0
                else:
                    qty = ln.quantity - 1 if j == 0 else 0
                if qty > 0:
                    ln.quantity_shipped = qty
                    items.append(
                        {"order_product_id": ln.id, "product_id": ln.product_id, "quantity": qty}
                    )
            if items:
                provider = ("usps", "ups", "fedex", "")[(h >> 55) % 4]
                tracking = f"1Z{(h >> 8) % 10**12:012d}" if provider else ""
                order.shipments.append(
                    make_shipment(
                        shipment_id=bc - ID_BASE + 1,
                        order=order,
                        customer_id=customer,
                        address=address,
                        created=shipped_at,
                        items=items,
                        tracking_number=tracking,
                        shipping_provider=provider,
                        tracking_carrier="",
                        shipping_method=address["shipping_method"],
                        tracking_link="",
                        comments="",
                        merchant_shipping_cost=0,
                    )
                )
            if status == 2:
                order.date_shipped = shipped_at
        return order

    # -- rendering -------------------------------------------------------------------------

    def b2b_record(
        self, i: int, order: Order | None, *, extra: bool, detail: bool
    ) -> dict[str, Any]:
        """The B2B Edition order object (list item, or detail when ``detail``)."""
        ix = self.index
        bc = i + ID_BASE
        s = order.summary() if order is not None else self.summary(i)
        st = ix.status[i]
        name = STATUS_NAMES[st]
        company = ix.company[i]
        customer = ix.customer[i]
        _, rate, fmt = CURRENCIES[s.currency]
        ch = ix.channel[i]
        rec: dict[str, Any] = {
            "id": bc + B2B_ID_OFFSET,
            "bcOrderId": bc,
            "totalIncTax": money_float(s.total_inc),
            "poNumber": s.po_number,
            "status": name,
            "customStatus": CUSTOM_STATUS.get(st, name),
            "cartId": s.cart_id,
            "items": s.items,
            "usdIncTax": round(s.total_inc * rate / MONEY_SCALE, 2),
            "companyId": company if (company or customer) else None,
            "currencyCode": s.currency,
            "money": [fmt],
            "statusCode": st,
            "isArchived": s.archived,
            "channelId": ch,
            "channelName": channel_name(ch),
        }
        if detail:
            inv = (
                order.invoice
                if order is not None
                else self._invoice(self.order_hash(bc), bc, ix.company[i])
            )
            rec["isInvoiceOrder"] = inv[0]
            rec["invoiceId"] = inv[1]
            rec["invoiceNumber"] = inv[2]
            rec["invoiceStatus"] = inv[3]
        if extra or detail:
            rec.update(_LEGACY_EXTRA)
            rec["extraInfo"] = s.extra_info
            rec["extraFields"] = s.extra_fields
        rec["createdAt"] = ix.created[i]
        rec["updatedAt"] = ix.updated[i]
        return rec

    def b2b_products(self, i: int, order: Order) -> list[dict[str, Any]]:
        """B2B ``/orders/{bcOrderId}/products`` items."""
        created = self.index.created[i]
        updated = self.index.updated[i]
        return [
            {
                "id": ln.id,
                "productId": ln.product_id,
                "createdAt": created,
                "updatedAt": updated,
                "productName": ln.name,
                "variantSku": ln.sku,
                "variantId": ln.variant_id,
                "productBrandName": ln.brand,
                "quantity": ln.quantity,
                "options": [_camel_option(o) for o in ln.options],
            }
            for ln in order.lines
        ]

    def v2_order(self, i: int, order: Order, base_url: str) -> dict[str, Any]:
        """The V2 order object."""
        ix = self.index
        bc = i + ID_BASE
        t = order.totals()
        st = ix.status[i]
        cur_id = CURRENCIES[order.currency][0]
        sh_ex, sh_inc = order.shipping
        ha_ex, ha_inc = order.handling
        wr_ex, wr_inc = order.wrapping
        v2 = order.v2
        return {
            "id": bc,
            "customer_id": ix.customer[i],
            "date_created": rfc2822(ix.v2_created(i)),
            "date_modified": rfc2822(ix.updated[i]),
            "date_shipped": rfc2822(order.date_shipped) if order.date_shipped else "",
            "status_id": st,
            "status": STATUS_NAMES[st],
            "subtotal_ex_tax": money(t["sub_ex"]),
            "subtotal_inc_tax": money(t["sub_inc"]),
            "subtotal_tax": money(t["sub_inc"] - t["sub_ex"]),
            "base_shipping_cost": money(order.base_costs[0]),
            "shipping_cost_ex_tax": money(sh_ex),
            "shipping_cost_inc_tax": money(sh_inc),
            "shipping_cost_tax": money(sh_inc - sh_ex),
            "shipping_cost_tax_class_id": 0,
            "base_handling_cost": money(order.base_costs[1]),
            "handling_cost_ex_tax": money(ha_ex),
            "handling_cost_inc_tax": money(ha_inc),
            "handling_cost_tax": money(ha_inc - ha_ex),
            "handling_cost_tax_class_id": 0,
            "base_wrapping_cost": money(order.base_costs[2]),
            "wrapping_cost_ex_tax": money(wr_ex),
            "wrapping_cost_inc_tax": money(wr_inc),
            "wrapping_cost_tax": money(wr_inc - wr_ex),
            "wrapping_cost_tax_class_id": 0,
            "total_ex_tax": money(t["total_ex"]),
            "total_inc_tax": money(t["total_inc"]),
            "total_tax": money(t["total_inc"] - t["total_ex"]),
            "is_tax_inclusive_pricing": False,
            "items_total": t["items_total"],
            "items_shipped": t["items_shipped"],
            "payment_method": v2["payment_method"],
            "payment_provider_id": v2["payment_provider_id"],
            "payment_status": payment_status(st),
            "refunded_amount": money(order.refunded),
            "order_is_digital": v2["order_is_digital"],
            "store_credit_amount": "0.0000",
            "gift_certificate_amount": "0.0000",
            "ip_address": v2["ip_address"],
            "ip_address_v6": v2["ip_address_v6"],
            "geoip_country": v2["geoip_country"],
            "geoip_country_iso2": v2["geoip_country_iso2"],
            "currency_id": cur_id,
            "currency_code": order.currency,
            "currency_exchange_rate": "1.0000000000",
            "default_currency_id": cur_id,
            "default_currency_code": order.currency,
            "staff_notes": v2["staff_notes"],
            "customer_message": v2["customer_message"],
            "discount_amount": money(order.discount),
            "coupon_discount": "0.0000",
            "shipping_address_count": len(order.addresses),
            "is_deleted": order.archived,
            "ebay_order_id": v2["ebay_order_id"],
            "cart_id": order.cart_id,
            "billing_address": dict(order.billing),
            "is_email_opt_in": v2["is_email_opt_in"],
            "credit_card_type": v2["credit_card_type"],
            "order_source": v2["order_source"],
            "channel_id": ix.channel[i],
            "external_source": v2["external_source"],
            "products": {
                "url": f"{base_url}/orders/{bc}/products",
                "resource": f"/orders/{bc}/products",
            },
            "shipping_addresses": {
                "url": f"{base_url}/orders/{bc}/shippingaddresses",
                "resource": f"/orders/{bc}/shippingaddresses",
            },
            "coupons": {
                "url": f"{base_url}/orders/{bc}/coupons",
                "resource": f"/orders/{bc}/coupons",
            },
            "external_id": v2["external_id"],
            "external_merchant_id": v2["external_merchant_id"],
            "tax_provider_id": v2["tax_provider_id"],
            "store_default_currency_code": "USD",
            "store_default_to_transactional_exchange_rate": f"{CURRENCIES[order.currency][1]:.10f}",
            "custom_status": CUSTOM_STATUS.get(st, STATUS_NAMES[st]),
            "customer_locale": v2["customer_locale"],
            "external_order_id": v2["external_order_id"],
        }

    def v2_products(self, i: int, order: Order) -> list[dict[str, Any]]:
        """V2 ``/orders/{id}/products`` items, ordered by id."""
        bc = i + ID_BASE
        return [v2_line(ln, bc) for ln in sorted(order.lines, key=lambda ln: ln.id)]

    def v2_addresses(self, i: int, order: Order, base_url: str) -> list[dict[str, Any]]:
        """V2 ``/orders/{id}/shipping_addresses`` items."""
        bc = i + ID_BASE
        out: list[dict[str, Any]] = []
        for k, a in enumerate(order.addresses):
            lines = [ln for ln in order.lines if ln.address_id == a["id"]]
            quotes = f"/orders/{bc}/shipping_addresses/{a['id']}/shipping_quotes"
            costs = {key: money(v) for key, v in _address_costs(order, k).items()}
            out.append(
                {
                    "id": a["id"],
                    "order_id": bc,
                    "first_name": a["first_name"],
                    "last_name": a["last_name"],
                    "company": a["company"],
                    "street_1": a["street_1"],
                    "street_2": a["street_2"],
                    "city": a["city"],
                    "zip": a["zip"],
                    "country": a["country"],
                    "country_iso2": a["country_iso2"],
                    "state": a["state"],
                    "email": a["email"],
                    "phone": a["phone"],
                    "items_total": sum(ln.quantity for ln in lines),
                    "items_shipped": sum(ln.quantity_shipped for ln in lines),
                    "shipping_method": a["shipping_method"],
                    "base_cost": costs["base_cost"],
                    "cost_ex_tax": costs["cost_ex_tax"],
                    "cost_inc_tax": costs["cost_inc_tax"],
                    "cost_tax": costs["cost_tax"],
                    "cost_tax_class_id": 0,
                    "base_handling_cost": costs["base_handling_cost"],
                    "handling_cost_ex_tax": costs["handling_cost_ex_tax"],
                    "handling_cost_inc_tax": costs["handling_cost_inc_tax"],
                    "handling_cost_tax": costs["handling_cost_tax"],
                    "handling_cost_tax_class_id": 0,
                    "shipping_zone_id": 1,
                    "shipping_zone_name": a["country"],
                    "shipping_quotes": {
                        "url": f"{base_url}{quotes}",
                        "resource": quotes,
                    },
                    "form_fields": list(a.get("form_fields", [])),
                }
            )
        return out

    def v2_consignments(
        self,
        i: int,
        order: Order,
        base_url: str,
        *,
        line_items: bool,
        cap: int | None,
        empty: bool,
    ) -> dict[str, Any]:
        """The ``orderConsignment_Get`` object of an order (``include=consignments``).

        One ``shipping`` consignment per shipping address (its id is the address id, so
        it matches the lines' ``order_address_id``), with the address fields and its
        ``line_items``: full ``/orders/{id}/products`` objects when ``line_items``, else
        ``{url, resource}`` links. More than ``cap`` lines: the first ``cap`` by id and a
        ``__warning__`` on the consignment. ``empty``: ``line_items`` is ``[]`` although
        the order has items. The store has no pickups, downloads or gift certificates.
        """
        bc = i + ID_BASE
        shipping: list[dict[str, Any]] = []
        for k, a in enumerate(order.addresses):
            lines = sorted(
                (ln for ln in order.lines if ln.address_id == a["id"]), key=lambda ln: ln.id
            )
            shown = [] if empty else lines if cap is None else lines[:cap]
            if line_items:
                items: list[dict[str, Any]] = [v2_line(ln, bc) for ln in shown]
            else:
                items = [
                    {
                        "url": f"{base_url}/orders/{bc}/products/{ln.id}",
                        "resource": f"/orders/{bc}/products/{ln.id}",
                    }
                    for ln in shown
                ]
            quotes = f"/orders/{bc}/consignments/shipping/{a['id']}/shipping_quotes"
            costs = {key: round(v / MONEY_SCALE, 4) for key, v in _address_costs(order, k).items()}
            cons: dict[str, Any] = {
                "id": a["id"],
                **{key: a[key] for key in _CONSIGNMENT_ADDRESS_KEYS},
                "form_fields": list(a.get("form_fields", [])),
                "shipping_method": a["shipping_method"],
                "line_items": items,
                "items_total": sum(ln.quantity for ln in lines),
                "items_shipped": sum(ln.quantity_shipped for ln in lines),
                **costs,
                "cost_tax_class_id": 0,
                "handling_cost_tax_class_id": 0,
                "shipping_zone_id": 1,
                "shipping_zone_name": a["country"],
                "shipping_quotes": {"url": f"{base_url}{quotes}", "resource": quotes},
            }
            if not empty and cap is not None and len(lines) > cap:
                cons["__warning__"] = {"message": LINE_CAP_WARNING.format(cap=cap)}
            shipping.append(cons)
        return {
            "pickups": [],
            "shipping": shipping,
            "downloads": [],
            "email": {"gift_certificates": []},
        }

    # -- values the V2 list filters on, without materializing the order ------------------

    def billing_email(self, i: int, order: Order | None) -> str:
        """The billing email (``email`` filter)."""
        if order is not None:
            return str(order.billing.get("email", ""))
        ix = self.index
        bc = i + ID_BASE
        h = self.order_hash(bc)
        customer = ix.customer[i]
        key = customer if customer else bc * 31 + 7
        return str(self._address(key, self._currency(h), ix.company[i])["email"])

    def cart_id(self, i: int, order: Order | None) -> str:
        """The cart id (``cart_id`` filter)."""
        return order.cart_id if order is not None else self._cart_id(self.order_hash(i + ID_BASE))

    def payment_method(self, i: int, order: Order | None) -> str:
        """The payment method (``payment_method`` filter)."""
        if order is not None:
            return str(order.v2["payment_method"])
        return _PAYMENT[(self.order_hash(i + ID_BASE) >> 41) % len(_PAYMENT)]

    def total_inc(self, i: int, order: Order | None) -> int:
        """``total_inc_tax`` in units (``min_total``/``max_total`` filters)."""
        return order.totals()["total_inc"] if order is not None else self.summary(i).total_inc


_CONSIGNMENT_ADDRESS_KEYS = (
    "first_name",
    "last_name",
    "company",
    "street_1",
    "street_2",
    "city",
    "zip",
    "country",
    "country_iso2",
    "state",
    "email",
    "phone",
)


def _address_costs(order: Order, k: int) -> dict[str, int]:
    """Shipping and handling of the ``k``-th shipping address: the first carries the
    order's amounts, the others none."""
    if k:
        sh_ex = sh_inc = ha_ex = ha_inc = base = base_h = 0
    else:
        sh_ex, sh_inc = order.shipping
        ha_ex, ha_inc = order.handling
        base, base_h = order.base_costs[0], order.base_costs[1]
    return {
        "base_cost": base,
        "cost_ex_tax": sh_ex,
        "cost_inc_tax": sh_inc,
        "cost_tax": sh_inc - sh_ex,
        "base_handling_cost": base_h,
        "handling_cost_ex_tax": ha_ex,
        "handling_cost_inc_tax": ha_inc,
        "handling_cost_tax": ha_inc - ha_ex,
    }


_LEGACY_EXTRA: dict[str, None] = {
    **{f"extraInt{k}": None for k in range(1, 6)},
    **{f"extraStr{k}": None for k in range(1, 6)},
    "extraText": None,
}

BASE_ADDRESS_KEYS = (
    "first_name",
    "last_name",
    "company",
    "street_1",
    "street_2",
    "city",
    "state",
    "zip",
    "country",
    "country_iso2",
    "phone",
    "email",
)


def _camel_option(o: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": o["id"],
        "optionId": o["option_id"],
        "productOptionId": o["product_option_id"],
        "orderProductId": o["order_product_id"],
        "displayName": o["display_name"],
        "displayNameCustomer": o["display_name_customer"],
        "displayNameMerchant": o["display_name_merchant"],
        "displayValue": o["display_value"],
        "displayValueCustomer": o["display_value_customer"],
        "displayValueMerchant": o["display_value_merchant"],
        "value": int(o["value"]) if str(o["value"]).isdigit() else o["value"],
        "type": o["type"],
        "name": o["name"],
        "displayStyle": o["display_style"],
    }


def v2_line(ln: Line, order_id: int) -> dict[str, Any]:
    """Render one order product as the V2 API does."""
    total_ex = ln.price_ex * ln.quantity
    total_inc = ln.price_inc * ln.quantity
    return {
        "id": ln.id,
        "order_id": order_id,
        "product_id": ln.product_id,
        "variant_id": ln.variant_id,
        "order_pickup_method_id": 0,
        "order_address_id": ln.address_id,
        "name": ln.name,
        "name_customer": ln.name,
        "name_merchant": ln.name_merchant,
        "sku": ln.sku,
        "upc": ln.upc,
        "type": "physical",
        "base_price": money(ln.price_ex),
        "price_ex_tax": money(ln.price_ex),
        "price_inc_tax": money(ln.price_inc),
        "price_tax": money(ln.price_inc - ln.price_ex),
        "base_total": money(total_ex),
        "total_ex_tax": money(total_ex),
        "total_inc_tax": money(total_inc),
        "total_tax": money(total_inc - total_ex),
        "weight": money(ln.weight),
        "width": "1.0000",
        "height": "1.0000",
        "depth": "1.0000",
        "quantity": ln.quantity,
        "base_cost_price": money(ln.cost),
        "cost_price_inc_tax": money(ln.cost),
        "cost_price_ex_tax": money(ln.cost),
        "cost_price_tax": "0.0000",
        "is_refunded": False,
        "quantity_refunded": 0,
        "refund_amount": "0.0000",
        "return_id": 0,
        "wrapping_id": 0,
        "wrapping_name": "",
        "base_wrapping_cost": "0.0000",
        "wrapping_cost_ex_tax": "0.0000",
        "wrapping_cost_inc_tax": "0.0000",
        "wrapping_cost_tax": "0.0000",
        "wrapping_message": "",
        "quantity_shipped": ln.quantity_shipped,
        "event_name": None,
        "event_date": None,
        "fixed_shipping_cost": "0.0000",
        "ebay_item_id": "",
        "ebay_transaction_id": "",
        "option_set_id": ln.option_set_id,
        "parent_order_product_id": None,
        "is_bundled_product": False,
        "bin_picking_number": "",
        "external_id": None,
        "brand": ln.brand,
        "applied_discounts": [],
        "product_options": [dict(o) for o in ln.options],
        "configurable_fields": [],
        "gift_certificate_id": None,
        "discounted_total_inc_tax": money(total_inc),
    }


def make_shipment(
    *,
    shipment_id: int,
    order: Order,
    customer_id: int,
    address: dict[str, Any],
    created: int,
    items: list[dict[str, int]],
    tracking_number: str,
    shipping_provider: str,
    tracking_carrier: str,
    shipping_method: str,
    tracking_link: str,
    comments: str,
    merchant_shipping_cost: int,
) -> dict[str, Any]:
    """Build a V2 shipment object."""
    generated = ""
    template = _TRACK_LINKS.get(shipping_provider)
    if tracking_number and template:
        generated = template.format(tracking_number)
    elif tracking_number and (shipping_provider or tracking_carrier):
        generated = f"https://track.aftership.com/{tracking_number}"
    return {
        "id": shipment_id,
        "order_id": order.bc_id,
        "customer_id": customer_id,
        "order_address_id": address["id"],
        "date_created": rfc2822(created),
        "tracking_number": tracking_number,
        "merchant_shipping_cost": money(merchant_shipping_cost),
        "shipping_method": shipping_method,
        "comments": comments,
        "shipping_provider": shipping_provider,
        "tracking_carrier": tracking_carrier,
        "tracking_link": tracking_link,
        "billing_address": {k: order.billing[k] for k in BASE_ADDRESS_KEYS},
        "shipping_address": {k: address[k] for k in BASE_ADDRESS_KEYS},
        "items": [dict(it) for it in items],
        "shipping_provider_display_name": _PROVIDER_NAMES.get(shipping_provider, shipping_provider),
        "generated_tracking_link": generated,
    }
