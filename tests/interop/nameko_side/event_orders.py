"""A Nameko orders service that dispatches ``order_created`` (``nameko run event_orders``)."""

from nameko.events import EventDispatcher
from nameko.rpc import rpc


class Orders:
    name = "orders"

    dispatch = EventDispatcher()

    @rpc
    def create(self, order_id, product_id, quantity):
        payload = {"order_id": order_id, "product_id": product_id, "quantity": quantity}
        self.dispatch("order_created", payload)
        return payload
