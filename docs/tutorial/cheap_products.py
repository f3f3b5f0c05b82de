"""Every product under 10 yuan with a minimum order of at most 5, from the shops you name.

    scrapy crawl cheap_products -a sellers=SELLER_OPEN_ID,SELLER_OPEN_ID,SELLER_OPEN_ID -O cheap.jsonl
"""

from decimal import Decimal

from ali1688spider import Argument, ShopSpider, SpiderArgumentError


def seller_list(text):
    """``-a sellers=a,b,c``: the shops' sellerOpenIds."""
    sellers = [part.strip() for part in text.split(",") if part.strip()]
    if not sellers:
        raise ValueError("give at least one sellerOpenId")
    return sellers


class CheapProductsSpider(ShopSpider):
    name = "cheap_products"
    arguments = {"sellers": Argument(seller_list, "comma list of the shops' sellerOpenIds")}
    max_price = Decimal("10")
    max_moq = 5

    @classmethod
    def check_combination(cls, values):
        if not values["sellers"]:
            raise SpiderArgumentError("spider 'cheap_products' needs -a sellers=ID,ID,…")

    async def start(self):
        for seller in self.sellers:
            for request in self.shop_requests(seller):
                yield request

    def keep(self, product):
        # Listing entries have a price and no MOQ; details have both.
        price, moq = product.get("price_min"), product.get("moq")
        if price is None or Decimal(price) >= self.max_price:
            return False
        return moq is None or moq <= self.max_moq

    def wants_detail(self, product, *, asked):
        # Only the cheap ones get here (keep comes first): their details tell the MOQ.
        return True
