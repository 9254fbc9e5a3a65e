"""The shop of Nameko's example application: orders dispatch ``order_created``, products take
the stock down."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from rpcgen import event, raises, service


@dataclass
class Order:
    """An order as the orders service stores it."""

    id: int
    product_id: str
    quantity: int


@dataclass
class OrderCreated:
    """What ``order_created`` carries: enough for products to take the stock down."""

    order_id: int
    product_id: str
    quantity: int


class OutOfStock(Exception):
    """There is not enough of the product left."""


@service("orders")
class Orders(Protocol):
    """Takes orders; dispatches ``order_created`` for each."""

    def create_order(self, product_id: str, quantity: int) -> Order:
        """Create an order and dispatch ``order_created``."""
        ...

    def get_order(self, order_id: int) -> Order: ...

    @event("order_created")
    def order_created(self, payload: OrderCreated) -> None:
        """An order was created."""
        ...


@service("products")
class Products(Protocol):
    """Keeps the stock; handles ``order_created``."""

    def get_stock(self, product_id: str) -> int: ...

    @raises(OutOfStock)
    def take(self, product_id: str, quantity: int) -> int:
        """Take ``quantity`` of a product out of stock; returns what is left."""
        ...
