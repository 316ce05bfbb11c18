"""Consumer goods: the markets households buy in (:mod:`gosplan.consumers.market`)."""

from gosplan.consumers.market import FixedPriceSale, Market, clear, demand, sell_at_fixed_prices

__all__ = ["Market", "FixedPriceSale", "clear", "demand", "sell_at_fixed_prices"]
