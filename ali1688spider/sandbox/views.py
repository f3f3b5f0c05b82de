"""Renders catalogue objects in the response shapes of the reference (§6, samples/).

Cross-border ("fenxiao") APIs: prices as strings, absolute image URLs, ``yyyy-MM-dd HH:mm:ss``
dates. Classic product model: prices as numbers, relative image paths, ``yyyyMMddHHmmssSSS+0800``
dates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ali1688spider.sandbox.timefmt import classic_date, fenxiao_date

if TYPE_CHECKING:
    from ali1688spider.sandbox.catalog import Shop
    from ali1688spider.sandbox.categories import Category, CategoryTree
    from ali1688spider.sandbox.products import Brief, Offer, Sku

IMAGE_HOST = "https://cbu01.alicdn.com/"
BIZ_GROUPS = (
    ("isRetailOffer", "零售通"),
    ("isMicroSupply", "微供商品"),
    ("isEMallOffer", "1688企业内部商城"),
    ("isConsignMarketOffer", "1688代销产品"),
    ("hasLinkedToSupplier", "代发业务产品"),
)


def price_text(cents: int) -> str:
    """Cents as 1688's price strings: ``"12.5"``, ``"10"``, ``"0.35"``."""
    yuan, fen = divmod(cents, 100)
    return str(yuan) if fen == 0 else f"{yuan}.{fen:02d}".rstrip("0")


def price_number(cents: int) -> float:
    return cents / 100


def absolute(path: str) -> str:
    return IMAGE_HOST + path


def detail_url(offer_id: int) -> str:
    return f"https://detail.1688.com/offer/{offer_id}.html"


def wrapped(payload: Any) -> dict[str, Any]:
    """The cross-border envelope: ``result.{success, code, message, result}``."""
    return {"result": {"success": True, "code": "200", "message": "成功", "result": payload}}


def wrapped_error(code: str, message: str) -> dict[str, Any]:
    return {"result": {"success": False, "code": code, "message": message, "result": None}}


def paging(total: int, page_size: int, current: int, data: list[Any]) -> dict[str, Any]:
    return {
        "totalRecords": total,
        "totalPage": -(-total // page_size),
        "pageSize": page_size,
        "currentPage": current,
        "data": data,
    }


def _flag(brief: Brief, salt: int, one_in: int) -> bool:
    return (brief.offer_id // salt) % one_in == 0


# -- cross-border listings and detail ------------------------------------------------------------

def _price_info(brief: Brief) -> dict[str, str]:
    price = price_text(brief.price)
    return {
        "price": price,
        "jxhyPrice": price,
        "pfJxhyPrice": price,
        "consignPrice": price_text(brief.price + max(1, brief.price // 10)),
    }


def seller_offer(brief: Brief) -> dict[str, Any]:
    """One ``data[]`` entry of ``querySellerOfferList``."""
    image = absolute(brief.image)
    return {
        "imageUrl": image,
        "aigcImageUrl": image,
        "subject": brief.title.zh,
        "subjectTrans": brief.title.en,
        "offerId": brief.offer_id,
        "isJxhy": _flag(brief, 7, 3),
        "repurchaseRate": f"{brief.repurchase}%",
        "monthSold": brief.month_sold,
        "traceInfo": f"object_id@{brief.offer_id}^object_type@offer",
        "isOnePsale": brief.moq == 1,
        "priceInfo": _price_info(brief),
        "createDate": fenxiao_date(brief.created),
        "modifyDate": fenxiao_date(brief.modified),
        "isPatentProduct": _flag(brief, 11, 9),
        "offerIdentities": ["select-跨境select"] if _flag(brief, 13, 4) else [],
        "isSelect": "true" if _flag(brief, 13, 4) else "false",
        "token": f"{brief.offer_id:x}",
        "promotionURL": detail_url(brief.offer_id),
    }


def _seller_data(shop: Shop) -> dict[str, Any]:
    score = 3 + (int(shop.user_id) % 20) / 10
    return {
        "tradeMedalLevel": str(1 + int(shop.user_id) % 5),
        "compositeServiceScore": f"{score:.1f}",
        "logisticsExperienceScore": f"{score:.1f}",
        "disputeComplaintScore": f"{score:.1f}",
        "offerExperienceScore": f"{score:.1f}",
        "afterSalesExperienceScore": f"{score:.1f}",
        "consultingExperienceScore": f"{score:.1f}",
        "repeatPurchasePercent": f"{0.2 + (int(shop.user_id) % 50) / 100:.4f}",
    }


def search_offer(brief: Brief, tree: CategoryTree) -> dict[str, Any]:
    """One ``data[]`` entry of ``keywordQuery`` (no seller id, as on 1688)."""
    top, second, leaf = tree.path(brief.leaf)
    item = seller_offer(brief)
    item["priceInfo"]["promotionPrice"] = item["priceInfo"]["price"]
    item["isSelect"] = item["isSelect"] == "true"
    item.update(
        sellerIdentities=["tp_member-诚信通会员"],
        tradeScore="5.0" if _flag(brief, 3, 2) else "4.5",
        whiteImage=item["imageUrl"],
        promotionModel={"hasPromotion": False, "promotionType": ""},
        topCategoryId=top.category_id,
        secondCategoryId=second.category_id,
        thirdCategoryId=leaf.category_id,
        minOrderQuantity=brief.moq,
        sellerDataInfo={**_seller_data(brief.shop), "tpYear": 1 + int(brief.shop.user_id) % 12},
        productSimpleShippingInfo={"shippingTimeGuarantee": "shipIn48Hours"},
        sales7d=str(brief.month_sold // 4),
        productTradeInfo={"payBuyerCount30d": str(brief.month_sold // 2)},
        invoiceInfo=_invoice(),
    )
    return item


def _invoice() -> dict[str, Any]:
    return {"supportOnlineInvoice": True, "supportFastInvoice": False,
            "invoiceTypes": ["普票"], "taxpayerType": "一般纳税人"}


def _sku_attributes(sku: Sku) -> list[dict[str, Any]]:
    return [
        {
            "attributeId": dimension.attribute_id,
            "attributeName": dimension.name.zh,
            "attributeNameTrans": dimension.name.en,
            "value": value.zh,
            "valueTrans": value.en,
            "skuImageUrl": "",
            "skuImageUrlTrans": "",
        }
        for dimension, value in sku.attributes
    ]


def fenxiao_detail(offer: Offer, tree: CategoryTree) -> dict[str, Any]:
    """``result.result`` of ``queryProductDetail``."""
    brief = offer.brief
    top, second, leaf = tree.path(brief.leaf)
    images = [absolute(path) for path in offer.images]
    one_piece = price_text(offer.tiers[0][1])
    length, width, height = offer.size_cm
    return {
        "offerId": brief.offer_id,
        "categoryId": leaf.category_id,
        "categoryName": leaf.name.zh,
        "subject": brief.title.zh,
        "subjectTrans": brief.title.en,
        "description": f"<p>{brief.title.zh}</p>" + "".join(f'<img src="{u}"/>' for u in images),
        "descriptionTrans": f"<p>{brief.title.en}</p>",
        "mainVideo": "",
        "detailVideo": "",
        "productImage": {"images": images, "whiteImage": images[0]},
        "productImageTrans": {"images": images, "whiteImage": images[0]},
        "productAttribute": [
            {"attributeId": str(aid), "attributeName": name.zh, "value": value.zh,
             "attributeNameTrans": name.en, "valueTrans": value.en}
            for aid, name, value in offer.attributes
        ],
        "productSkuInfos": [
            {
                "amountOnSale": sku.stock,
                "price": price_text(sku.price),
                "jxhyPrice": price_text(sku.price),
                "pfJxhyPrice": price_text(sku.price),
                "promotionPrice": price_text(sku.price),
                "skuId": sku.sku_id,
                "specId": sku.spec_id,
                "skuAttributes": _sku_attributes(sku),
                "consignPrice": price_text(sku.price + max(1, sku.price // 10)),
                "cargoNumber": sku.cargo_number,
                "fenxiaoPriceInfo": {"onePiecePrice": price_text(sku.price),
                                     "offerPrice": price_text(sku.price)},
            }
            for sku in offer.skus
        ],
        "productSaleInfo": {
            "amountOnSale": offer.stock,
            "priceRangeList": [
                {"startQuantity": quantity, "price": price_text(cents)}
                for quantity, cents in offer.tiers
            ],
            "quoteType": offer.quote_type,
            "consignPrice": one_piece,
            "jxhyPrice": price_text(brief.price),
            "unitInfo": {"unit": brief.unit.zh, "transUnit": brief.unit.en},
            "fenxiaoSaleInfo": {"onePieceFreePostage": False, "startQuantity": brief.moq,
                                "onePiecePrice": one_piece, "offerPrice": price_text(brief.price)},
        },
        "productShippingInfo": {
            "sendGoodsAddressText": brief.shop.company_name[:2],
            "weight": offer.weight_kg,
            "width": width,
            "height": height,
            "length": length,
            "skuShippingInfoList": [
                {"specId": sku.spec_id, "skuId": sku.sku_id, "width": width, "length": length,
                 "height": height, "weight": round(offer.weight_kg * 1000)}
                for sku in offer.skus
            ],
            "shippingTimeGuarantee": "shipIn48Hours",
            "skuShippingDetails": [
                {"skuId": str(sku.sku_id), "width": width, "length": length, "height": height,
                 "weight": offer.weight_kg, "pkgSizeSource": "商家自填"}
                for sku in offer.skus
            ],
            "pkgSizeSource": "商家自填",
            "officialLength": length,
            "officialWidth": width,
            "officialHeight": height,
            "officialWeight": offer.weight_kg,
        },
        "isJxhy": _flag(brief, 7, 3),
        "sellerOpenId": brief.shop.seller_open_id,
        "minOrderQuantity": brief.moq,
        "batchNumber": offer.batch_number,
        "status": "published",
        "tagInfoList": [{"key": "isOnePsale", "value": brief.moq == 1}],
        "traceInfo": f"object_id@{brief.offer_id}^object_type@offer",
        "sellerMixSetting": {"generalHunpi": True, "mixAmount": 100, "mixNumber": 2},
        "productCargoNumber": offer.cargo_number,
        "sellerDataInfo": _seller_data(brief.shop),
        "soldOut": str(offer.total_sold),
        "channelPrice": {"channelSkuPriceList": [
            {"skuId": sku.sku_id, "currentPrice": price_text(sku.price)} for sku in offer.skus
        ]},
        "promotionModel": {"hasPromotion": False, "promotionType": ""},
        "tradeScore": "5.0" if _flag(brief, 3, 2) else "4.5",
        "topCategoryId": top.category_id,
        "secondCategoryId": second.category_id,
        "thirdCategoryId": leaf.category_id,
        "sellingPoint": [],
        "offerIdentities": ["select-跨境select"] if _flag(brief, 13, 4) else [],
        "createDate": fenxiao_date(brief.created),
        "isSelect": "true" if _flag(brief, 13, 4) else "false",
        "certificateList": [],
        "promotionUrl": detail_url(brief.offer_id),
        "companyName": brief.shop.company_name,
        "invoiceInfo": _invoice(),
    }


# -- classic product model -----------------------------------------------------------------------

def _classic_sku(sku: Sku, *, simple: bool) -> dict[str, Any]:
    if simple:
        attributes = [{"attributeID": d.attribute_id, "attributeValue": v.zh}
                      for d, v in sku.attributes]
    else:
        attributes = [
            {"attributeID": d.attribute_id, "attValueID": d.attribute_id * 1000 + d.values.index(v),
             "attributeValue": v.zh, "customValueName": "", "skuImageUrl": "",
             "attributeDisplayName": d.name.zh, "attributeName": d.name.zh, "attrType": "1"}
            for d, v in sku.attributes
        ]
    entry: dict[str, Any] = {
        "attributes": attributes,
        "cargoNumber": sku.cargo_number,
        "amountOnSale": sku.stock,
        "skuCode": sku.sku_code,
        "skuId": sku.sku_id,
        "specId": sku.spec_id,
    }
    if not simple:
        entry.update(price=price_number(sku.price), retailPrice=price_number(sku.price),
                     priceRange=[], consignPrice=price_number(sku.price + max(1, sku.price // 10)),
                     takeSamplePrice=price_number(sku.price))
    return entry


def _sale_info(offer: Offer) -> dict[str, Any]:
    brief = offer.brief
    return {
        "supportOnlineTrade": True,
        "mixWholeSale": True,
        "saleType": "normal",
        "priceAuth": False,
        "priceRanges": [{"startQuantity": q, "price": price_number(c)} for q, c in offer.tiers],
        "amountOnSale": float(offer.stock),
        "unit": brief.unit.zh,
        "minOrderQuantity": brief.moq,
        "batchNumber": offer.batch_number,
        "retailprice": price_number(offer.tiers[0][1]),
        "sellunit": brief.unit.zh,
        "quoteType": offer.quote_type,
        "consignPrice": price_number(offer.tiers[0][1]),
        "deliveryLimit": 5,
        "invReduceType": "1",
    }


def classic_product(offer: Offer, *, simple: bool = False) -> dict[str, Any]:
    """``productInfo`` of ``alibaba.product.get`` (or the smaller ``simple.get`` one)."""
    brief = offer.brief
    info: dict[str, Any] = {
        "productID": brief.offer_id,
        "categoryID": brief.leaf.category_id,
        "status": "published",
        "subject": brief.title.zh,
        "description": f"<p>{brief.title.zh}</p>",
        "image": {"images": list(offer.images)},
        "skuInfos": [_classic_sku(sku, simple=simple) for sku in offer.skus],
        "saleInfo": _sale_info(offer),
        "referencePrice": str(price_number(brief.price)),
        "createTime": classic_date(brief.created),
        "lastUpdateTime": classic_date(brief.modified),
    }
    if simple:
        return info
    length, width, height = offer.size_cm
    info.update(
        productType="wholesale",
        categoryName=brief.leaf.name.zh,
        attributes=[
            {"attributeID": aid, "attributeName": name.zh, "valueID": aid * 100 + 1,
             "value": value.zh, "isCustom": False}
            for aid, name, value in offer.attributes
        ],
        groupID=[],
        language="CHINESE",
        periodOfValidity=3650,
        bizType=1,
        pictureAuth=False,
        shippingInfo={
            "unitWeight": offer.weight_kg,
            "volume": round(length * width * height),
            "handlingTime": 2,
            "freightTemplateID": 1,
            "suttleWeight": offer.weight_kg,
            "sendGoodsAddressText": brief.shop.company_name[:2],
            "width": width,
            "height": height,
            "length": length,
            "packageSize": f"{length:g}x{width:g}x{height:g}",
            "sendGoodsAddressId": int(brief.shop.user_id) % 1_000_000,
            "offerSuttleWeight": offer.weight_kg,
            "offerWidth": width,
            "offerHeight": height,
            "offerLength": length,
        },
        sellerLoginId=brief.shop.login_id,
        modifyTime=classic_date(brief.modified),
    )
    info["image"].update(isWatermark=False, isWatermarkFrame=False, watermarkPosition="")
    return info


def biz_groups() -> list[dict[str, Any]]:
    return [{"support": code == "isConsignMarketOffer", "description": text, "code": code}
            for code, text in BIZ_GROUPS]


# -- categories and accounts ---------------------------------------------------------------------

def category_info(category: Category | None, tree: CategoryTree) -> dict[str, Any]:
    """One ``categoryInfo[]`` entry of ``alibaba.category.get`` (None = the root, id 0)."""
    children = tree.roots if category is None else category.children
    return {
        "categoryID": 0 if category is None else category.category_id,
        "name": "" if category is None else category.name.zh,
        "isLeaf": False if category is None else category.is_leaf,
        "parentIDs": [] if category is None else [category.parent_id],
        "childCategorys": [
            {"id": c.category_id, "name": c.name.zh, "isLeaf": c.is_leaf, "categoryType": "1"}
            for c in (tree.by_id[i] for i in children)
        ],
        "featureInfos": [],
        "categoryType": "1",
        "isSupportProcessing": False,
    }


def translated_category(category: Category | None, language: str, tree: CategoryTree,
                        *, with_children: bool = True) -> dict[str, Any]:
    """``result`` of ``category.translation.getById`` (None = the root, id 0)."""
    children = tree.roots if category is None else category.children
    return {
        "fromCache": False,
        "children": [
            translated_category(tree.by_id[i], language, tree, with_children=False)
            for i in children
        ] if with_children and children else None,
        "level": str(0 if category is None else category.level),
        "chineseName": "" if category is None else category.name.zh,
        "language": language,
        "leaf": False if category is None else category.is_leaf,
        "translatedName": "" if category is None else category.name.en,
        "categoryId": 0 if category is None else category.category_id,
        "parentCateId": 0 if category is None else category.parent_id,
    }


def account_basic(shop: Shop, tree: CategoryTree) -> dict[str, Any]:
    """``result`` of ``alibaba.account.basic`` for the seller who authorized the token."""
    top = tree.by_id[tree.roots[shop.tops[0]]]
    return {
        "loginId": shop.login_id,
        "memberId": shop.member_id,
        "userId": int(shop.user_id),
        "companyName": shop.company_name,
        "sellerName": shop.name,
        "supplierName": shop.company_name,
        "shopUrl": shop.shop_url,
        "domainInPlatforms": [shop.domain],
        "homepageUrl": shop.shop_url,
        "categoryId": top.category_id,
        "categoryName": top.name.zh,
        "tpYear": 1 + int(shop.user_id) % 12,
        "trustScore": 60 + int(shop.user_id) % 40,
        "createDate": fenxiao_date(shop.created),
        "modifyDate": fenxiao_date(shop.created + 86400),
    }


def cross_basic(shop: Shop, tree: CategoryTree) -> dict[str, Any]:
    """``result`` of ``alibaba.account.agent.crossBasic``."""
    top = tree.by_id[tree.roots[shop.tops[0]]]
    return {
        "loginId": shop.login_id,
        "categoryName": top.name.zh,
        "companyName": shop.company_name,
        "shopUrl": shop.shop_url,
        "supplierName": shop.company_name,
        "kuaJingBao": False,
    }
