"""Vocabulary of the synthetic catalogue: Chinese words with their English translations.

Each top-level category lists its id, name, five second-level product nouns (the words
buyers search for: 饼干, 连衣裙, 手机壳 …), five leaf modifiers, a typical price in yuan,
its units and the SKU dimensions its products vary by.
"""

from __future__ import annotations

from typing import NamedTuple


class Word(NamedTuple):
    zh: str
    en: str


class SkuDimension(NamedTuple):
    attribute_id: int
    name: Word
    values: tuple[Word, ...]


class TopCategory(NamedTuple):
    category_id: int
    name: Word
    nouns: tuple[Word, ...]
    modifiers: tuple[Word, ...]
    price_yuan: float
    units: tuple[Word, ...]
    dimensions: tuple[SkuDimension, ...]


def words(pairs: str) -> tuple[Word, ...]:
    """``"连衣裙:Dress|T恤:T-shirt"`` -> words."""
    return tuple(Word(*pair.split(":", 1)) for pair in pairs.split("|"))


COLOR = SkuDimension(3216, Word("颜色", "Color"), words(
    "黑色:Black|白色:White|红色:Red|蓝色:Blue|粉色:Pink|灰色:Grey|绿色:Green|卡其色:Khaki"))
CLOTHES_SIZE = SkuDimension(450, Word("尺码", "Size"), words("S:S|M:M|L:L|XL:XL|XXL:XXL"))
SHOE_SIZE = SkuDimension(450, Word("尺码", "Size"), words(
    "36:36|37:37|38:38|39:39|40:40|41:41|42:42|43:43"))
SPEC = SkuDimension(1654, Word("规格", "Specification"), words(
    "小号:Small|中号:Medium|大号:Large|套装:Set|单个装:Single|10个装:Pack of 10"))
FLAVOR = SkuDimension(1398, Word("口味", "Flavor"), words(
    "原味:Original|草莓味:Strawberry|巧克力味:Chocolate|抹茶味:Matcha|海苔味:Seaweed"))
WEIGHT = SkuDimension(1654, Word("规格", "Specification"), words(
    "100g:100g|200g:200g|500g:500g|1kg:1kg|礼盒装:Gift box"))
MODEL = SkuDimension(100000729, Word("型号", "Model"), words(
    "iPhone 15:iPhone 15|iPhone 16:iPhone 16|华为Mate 60:Huawei Mate 60|小米14:Xiaomi 14|"
    "OPPO Reno11:OPPO Reno11|通用款:Universal"))

TOP_CATEGORIES: tuple[TopCategory, ...] = (
    TopCategory(10166, Word("女装", "Women's Clothing"),
                words("连衣裙:Dress|T恤:T-shirt|衬衫:Shirt|半身裙:Skirt|外套:Coat"),
                words("韩版:Korean-style|雪纺:Chiffon|纯棉:Cotton|蕾丝:Lace|大码:Plus-size"),
                45.0, words("件:Piece"), (COLOR, CLOTHES_SIZE)),
    TopCategory(1043351, Word("食品酒水", "Food & Drinks"),
                words("饼干:Biscuits|糖果:Candy|坚果:Nuts|茶叶:Tea|方便面:Instant noodles"),
                words("进口:Imported|手工:Handmade|低糖:Low-sugar|儿童:Kids'|散装:Bulk"),
                12.0, words("盒:Box|包:Pack|袋:Bag|箱:Case"), (FLAVOR, WEIGHT)),
    TopCategory(1501, Word("手机数码", "Phones & Electronics"),
                words("手机壳:Phone case|数据线:Charging cable|充电宝:Power bank|耳机:Earphones|"
                      "蓝牙音箱:Bluetooth speaker"),
                words("磁吸:Magnetic|便携:Portable|防摔:Shockproof|快充:Fast-charging|透明:Clear"),
                25.0, words("个:Piece|套:Set"), (COLOR, MODEL)),
    TopCategory(1038378, Word("鞋靴", "Shoes"),
                words("运动鞋:Sneakers|凉鞋:Sandals|拖鞋:Slippers|皮鞋:Leather shoes|靴子:Boots"),
                words("男士:Men's|女士:Women's|儿童:Kids'|透气:Breathable|防滑:Non-slip"),
                60.0, words("双:Pair"), (COLOR, SHOE_SIZE)),
    TopCategory(54, Word("服饰配件", "Accessories"),
                words("帽子:Hat|围巾:Scarf|腰带:Belt|手套:Gloves|袜子:Socks"),
                words("针织:Knitted|真皮:Genuine leather|羊毛:Wool|复古:Vintage|情侣:Couple"),
                18.0, words("个:Piece|条:Strip|双:Pair"), (COLOR, SPEC)),
    TopCategory(1813, Word("玩具", "Toys"),
                words("积木:Building blocks|毛绒玩具:Plush toy|遥控车:RC car|拼图:Puzzle|娃娃:Doll"),
                words("益智:Educational|卡通:Cartoon|创意:Creative|大号:Large|迷你:Mini"),
                30.0, words("个:Piece|套:Set|盒:Box"), (COLOR, SPEC)),
    TopCategory(7, Word("家纺家饰", "Home Textiles"),
                words("四件套:Bedding set|枕头:Pillow|毛巾:Towel|地毯:Carpet|窗帘:Curtain"),
                words("北欧:Nordic|加厚:Thick|全棉:Pure cotton|简约:Minimalist|酒店:Hotel"),
                80.0, words("套:Set|个:Piece|条:Strip"), (COLOR, SPEC)),
    TopCategory(97, Word("美容护肤", "Beauty & Skincare"),
                words("面膜:Face mask|口红:Lipstick|洗面奶:Facial cleanser|防晒霜:Sunscreen|"
                      "精华液:Serum"),
                words("补水:Hydrating|美白:Brightening|控油:Oil-control|敏感肌:Sensitive-skin|"
                      "男士:Men's"),
                20.0, words("盒:Box|支:Tube|瓶:Bottle"), (SPEC,)),
    TopCategory(67, Word("办公文教", "Office & School"),
                words("笔记本:Notebook|中性笔:Gel pen|文件夹:File folder|便利贴:Sticky notes|"
                      "笔袋:Pencil case"),
                words("学生:Student|商务:Business|可爱:Cute|加厚:Thick|定制:Custom"),
                8.0, words("本:Book|支:Pen|个:Piece|包:Pack"), (COLOR, SPEC)),
    TopCategory(1042954, Word("箱包皮具", "Bags & Luggage"),
                words("双肩包:Backpack|行李箱:Suitcase|钱包:Wallet|手提包:Handbag|斜挎包:Crossbody bag"),
                words("大容量:Large-capacity|防水:Waterproof|时尚:Fashion|商务:Business|轻便:Lightweight"),
                70.0, words("个:Piece"), (COLOR, SPEC)),
)

# Second-level ids the reference uses (连衣裙 = 1031910 under 女装 = 10166).
KNOWN_SECOND_LEVEL_IDS = {"连衣裙": 1031910}

TITLE_OPENERS = words(
    "2025新款:2025 new|爆款:Best-selling|现货:In-stock|高品质:High-quality|ins风:Ins-style|"
    "网红:Trending|定制:Customizable|热卖:Hot-selling|厂家:Factory|春夏:Spring-summer|"
    "秋冬:Autumn-winter|日系:Japanese-style|欧美:Western-style|简约:Simple|精品:Premium|"
    "跨境:Cross-border")
TITLE_CLOSERS = words(
    "厂家直销:factory direct|一件代发:dropshipping|批发:wholesale|现货速发:fast shipping|"
    "跨境专供:for export|源头工厂:source factory|支持定制:custom orders|量大从优:bulk discount|"
    "包邮:free shipping|新品上市:new arrival|工厂批发:factory wholesale|品质保证:quality assured")

SHOP_CITIES = ("义乌", "广州", "深圳", "杭州", "泉州", "温州", "汕头", "东莞", "宁波", "青岛",
               "苏州", "佛山")
SHOP_WORDS = ("星辰", "鸿运", "佳美", "恒信", "优品", "盛达", "锦华", "新锐", "博远", "金源",
              "天诚", "华美", "聚鑫", "乐途", "宏达", "瑞丰")
SHOP_KINDS = ("贸易有限公司", "电子商务有限公司", "实业有限公司", "工艺品厂", "服饰有限公司",
              "科技有限公司")
LOGIN_SYLLABLES = ("xing", "chen", "hong", "yun", "jia", "mei", "heng", "xin", "you", "pin",
                   "sheng", "da", "jin", "hua", "bo", "yuan")

ATTRIBUTE_BRAND = Word("品牌", "Brand")
ATTRIBUTE_ORIGIN = Word("产地", "Place of origin")
ATTRIBUTE_MATERIAL = Word("材质", "Material")
BRANDS = words("其他:Other|OEM:OEM|自有品牌:Own brand")
MATERIALS = words("棉:Cotton|涤纶:Polyester|塑料:Plastic|金属:Metal|硅胶:Silicone|混纺:Blend")
