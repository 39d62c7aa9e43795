from server.broker.base import Broker, Delivery, DeliveryHandler
from server.broker.memory import MemoryBroker

__all__ = ["Broker", "Delivery", "DeliveryHandler", "MemoryBroker"]
