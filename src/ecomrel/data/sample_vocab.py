# ruff: noqa: E501  (vocabulary tables read best one type per line)
"""The embedded vocabulary of the sample store: categories, product types, brands, attributes.

Written by hand for :mod:`ecomrel.data.sample` (nothing is read from disk at run time). Each
product type is declared with a compact string DSL so that the whole store fits on a few screens:

* ``attrs="size=8 in|10 in|12 in; material=cast iron|nonstick"`` — attribute → values. A value
  prefixed with ``~`` is an *absent feature* ("no hood"): it is stored in the attribute map and the
  description but never printed in the title.
* ``title="size material"`` — attributes printed before the product noun, in that order; ``colour``
  and ``gender`` are placed by the title builder itself.
* ``neg="without hood>hood=hooded"`` — negation phrases: the query phrase, then the attribute value(s)
  it excludes (``flavor=salmon|tuna``). Material negations ("not leather") are derived automatically.
* ``acc`` (accessory for), ``comp`` (complements), ``subs`` (substitute types): ``|``-separated
  type names; relations are made symmetric by the generator.
* ``compat`` — the attribute an accessory query names ("case for iphone 15" → ``compatible with``).
* ``pscale`` — the attribute whose (ordered) values scale the price.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ProductType:
    """One kind of product (a *product word*): the unit of the ground-truth rules."""

    name: str
    category: str
    synonyms: tuple[str, ...]
    price: float
    attrs: dict[str, tuple[str, ...]]
    title_attrs: tuple[str, ...]
    brands: tuple[str, ...]
    negations: tuple[tuple[str, str, str], ...] = ()
    accessory_for: tuple[str, ...] = ()
    complements: tuple[str, ...] = ()
    substitutes: tuple[str, ...] = ()
    uses: tuple[str, ...] = ()
    compat: str | None = None
    pscale: str | None = None
    brand_values: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    weight: float = 1.0


def _split(s: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in s.split("|") if x.strip())


def _attrs(s: str) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for part in s.split(";"):
        if part.strip():
            k, v = part.split("=", 1)
            out[k.strip()] = _split(v)
    return out


def _negs(s: str) -> tuple[tuple[str, str, str], ...]:
    out = []
    for part in s.split(";"):
        if part.strip():
            phrase, rest = part.split(">", 1)
            k, v = rest.split("=", 1)
            out.append((phrase.strip(), k.strip(), v.strip()))
    return tuple(out)


def _title_attrs(title: str, names: set[str]) -> tuple[str, ...]:
    """Split ``"screen size resolution"`` into attribute names, longest match first."""
    words, out, i = title.split(), [], 0
    while i < len(words):
        for n in (3, 2, 1):
            cand = " ".join(words[i : i + n])
            if cand in names:
                out.append(cand)
                i += n
                break
        else:
            raise ValueError(f"title attribute {words[i]!r} is not an attribute of its type ({sorted(names)})")
    return tuple(out)


def T(name: str, syn: str = "", price: float = 30.0, attrs: str = "", title: str = "", **kw) -> dict:  # noqa: N802
    """Declare a product type inside a category block (see the module docstring for the DSL)."""
    return {"name": name, "syn": syn, "price": price, "attrs": attrs, "title": title, **kw}


COLOURS = "black|white|grey|navy|red|blue|green|beige|pink|brown"
GENDER = "gender=women's|men's"
APPAREL_SIZE = "size=XS|S|M|L|XL|XXL"
SHOE_SIZE = "size=6|7|8|9|10|11|12"

# category path → (brands shared by its types, [types])
CATEGORIES: dict[str, tuple[str, list[dict]]] = {
    "Home > Kitchen > Cookware": (
        "Lodge|Le Creuset|T-fal|Cuisinart|Calphalon|All-Clad|Tramontina|KitchenAid|Amazon Basics",
        [
            T("skillet", "frying pan|fry pan", 45,
              "size=8 in|10 in|12 in; material=cast iron|stainless steel|nonstick|carbon steel|enameled cast iron;"
              " colour=black|red|blue|silver|grey", "size material",
              comp="pot lid", subs="wok", pscale="size",
              uses="searing steak|frying eggs|baking cornbread", weight=2.0),
            T("saucepan", "sauce pan|sauce pot", 40,
              "capacity=1 qt|2 qt|3 qt|4 qt; material=stainless steel|nonstick|copper|hard anodized aluminum;"
              " colour=silver|black|red|grey", "capacity material", comp="pot lid", pscale="capacity",
              uses="making sauces|boiling eggs"),
            T("dutch oven", "french oven|casserole pot", 95,
              "capacity=3.5 qt|5.5 qt|7.25 qt; material=enameled cast iron|cast iron|ceramic;"
              " colour=red|blue|cream|black|green|orange", "capacity material", subs="stock pot",
              pscale="capacity", uses="baking bread|slow cooking stew|braising short ribs", weight=1.5),
            T("stock pot", "stockpot|soup pot", 45,
              "capacity=8 qt|12 qt|16 qt|20 qt; material=stainless steel|aluminum|enamel; colour=silver|black|red",
              "capacity material", comp="pot lid", pscale="capacity", uses="making soup|boiling pasta"),
            T("wok", "stir fry pan", 40,
              "size=12 in|14 in; material=carbon steel|nonstick|cast iron|stainless steel; colour=black|silver",
              "size material", comp="pot lid", uses="stir frying|deep frying"),
            T("cookware set", "pots and pans set|pots and pans", 160,
              "pieces=5 piece|10 piece|12 piece; material=stainless steel|nonstick|ceramic|hard anodized aluminum;"
              " colour=black|silver|grey|blue|cream", "pieces material", pscale="pieces", weight=1.5),
        ],
    ),
    "Home > Kitchen > Kitchen Utensils & Cleaning": (
        "OXO|Lodge|Amazon Basics|Scrub Daddy|Casabella|Herda|Farberware|Joseph Joseph",
        [
            T("chain mail scrubber", "cast iron scrubber|chainmail scrubber|cast iron cleaner", 14,
              "material=stainless steel|titanium; size=4 in|6 in|8 in", "size material",
              acc="skillet|dutch oven|wok", uses="cleaning cast iron"),
            T("cast iron conditioner", "seasoning oil|cast iron oil", 12,
              "capacity=8 oz|12 oz|16 oz; scent=unscented|citrus", "capacity", acc="skillet|dutch oven|wok",
              uses="seasoning cast iron"),
            T("dish brush", "scrub brush|dish scrubber", 8,
              "material=bamboo|plastic|silicone; pack size=1 pack|2 pack|4 pack; colour=white|grey|green|blue",
              "material", comp="dish soap"),
            T("dish soap", "dishwashing liquid|dish detergent", 6,
              "scent=unscented|lemon|lavender|free & clear; capacity=16 oz|24 oz|48 oz;"
              " pack size=1 pack|2 pack|4 pack", "scent", comp="dish brush", pscale="capacity",
              neg="dish soap without fragrance>scent=lemon|lavender"),
            T("pot lid", "glass lid|universal lid|pan lid", 18,
              "size=8 in|10 in|12 in; material=tempered glass|stainless steel", "size material",
              acc="skillet|saucepan|stock pot|wok"),
            T("cutting board", "chopping board", 28,
              "material=bamboo|plastic|maple wood|walnut wood; size=small|medium|large; pack size=1 pack|3 pack",
              "size material", pscale="size", uses="carving meat|chopping vegetables"),
            T("silicone spatula", "spatula|rubber spatula", 11,
              "pack size=1 pack|3 pack|5 pack; colour=black|red|grey|blue|white", "", pscale="pack size"),
        ],
    ),
    "Home > Kitchen > Small Appliances": (
        "Ninja|Cuisinart|KitchenAid|Breville|Hamilton Beach|Keurig|Instant|Black+Decker|Mr. Coffee",
        [
            T("coffee maker", "coffee machine|coffee brewer", 90,
              "style=drip|single serve|espresso; capacity=1 cup|5 cup|12 cup|14 cup;"
              " colour=black|stainless steel|white|red", "capacity style", comp="coffee pods|coffee filter",
              uses="brewing coffee at home|making lattes", weight=2.0),
            T("blender", "smoothie blender", 80,
              "capacity=24 oz|48 oz|64 oz|72 oz; wattage=600 W|1000 W|1500 W; colour=black|silver|red|white",
              "wattage", pscale="wattage", uses="making smoothies|crushing ice", weight=1.5),
            T("toaster", "bread toaster", 40,
              "slots=2 slice|4 slice; material=stainless steel|plastic; colour=black|silver|white|red",
              "slots material", pscale="slots"),
            T("air fryer", "airfryer", 100,
              "capacity=2 qt|4 qt|6 qt|8 qt; window=viewing window|~no window; colour=black|white|grey",
              "capacity", comp="air fryer liners", pscale="capacity", uses="crispy fries|reheating pizza",
              weight=2.0),
            T("electric kettle", "tea kettle|hot water kettle", 40,
              "capacity=1 L|1.7 L; material=glass|stainless steel|plastic;"
              " temperature=variable temperature|single temperature; colour=black|white|silver",
              "capacity material", neg="electric kettle not plastic>material=plastic",
              uses="making pour over coffee|boiling water for tea"),
            T("stand mixer", "kitchen mixer", 300,
              "capacity=4.5 qt|5 qt|6 qt; colour=red|white|black|silver|blue|green", "capacity",
              pscale="capacity", uses="baking bread|mixing cookie dough"),
        ],
    ),
    "Home > Kitchen > Appliance Accessories": (
        "Melitta|Bunn|Cuisinart|Amazon Basics|Keurig|Ninja|Urnex|Impresa",
        [
            T("coffee filter", "coffee filters|drip filters", 7,
              "style=basket|cone #2|cone #4|reusable mesh; pack size=1 count|100 count|200 count|600 count",
              "style", acc="coffee maker", pscale="pack size"),
            T("air fryer liners", "parchment liners|air fryer paper", 10,
              "material=parchment paper|silicone; size=4 qt|6 qt|8 qt; pack size=2 count|100 count|200 count",
              "size material", acc="air fryer"),
            T("descaling solution", "descaler|coffee maker cleaner", 13,
              "capacity=8 oz|14 oz|24 oz; pack size=1 pack|2 pack", "capacity",
              acc="coffee maker|electric kettle", uses="cleaning a coffee maker"),
        ],
    ),
    "Grocery > Coffee & Tea": (
        "Starbucks|Green Mountain|Folgers|Dunkin|Peet's|Lavazza|Death Wish|Twinings|Bigelow",
        [
            T("coffee pods", "k cups|k-cup pods|coffee capsules", 18,
              "roast=light roast|medium roast|dark roast|decaf; pack size=12 count|24 count|72 count",
              "roast", comp="coffee maker", pscale="pack size", weight=1.5),
            T("ground coffee", "coffee grounds", 12,
              "roast=light roast|medium roast|dark roast|decaf; weight=12 oz|24 oz|40 oz", "roast weight",
              pscale="weight", comp="coffee filter|coffee maker"),
            T("whole bean coffee", "coffee beans", 15,
              "roast=light roast|medium roast|dark roast|espresso roast; weight=12 oz|2 lb|5 lb", "roast weight",
              pscale="weight", subs="ground coffee"),
            T("tea bags", "tea", 6,
              "flavor=green tea|black tea|chamomile|earl grey|peppermint; caffeine=caffeinated|decaf;"
              " pack size=20 count|100 count", "flavor", comp="electric kettle"),
        ],
    ),
    "Home > Kitchen > Drinkware": (
        "Yeti|Stanley|Hydro Flask|Contigo|Owala|Simple Modern|CamelBak|Zojirushi|Amazon Basics",
        [
            T("tumbler", "insulated tumbler|travel tumbler", 30,
              "capacity=20 oz|30 oz|40 oz; material=stainless steel|plastic; lid=straw lid|slider lid|chug lid;"
              " colour=" + COLOURS, "capacity", subs="travel mug|water bottle", pscale="capacity",
              uses="keeping coffee hot|iced coffee on the go", weight=2.5),
            T("water bottle", "insulated water bottle|drinking bottle", 25,
              "capacity=18 oz|24 oz|32 oz|40 oz|64 oz; material=stainless steel|plastic|glass;"
              " lid=straw lid|chug lid|flip lid|spout lid; colour=" + COLOURS, "capacity material",
              subs="tumbler", pscale="capacity", neg="water bottle not plastic>material=plastic",
              uses="the gym|hiking|school", weight=2.0),
            T("travel mug", "coffee thermos|to go mug", 22,
              "capacity=12 oz|16 oz|20 oz; lid=flip lid|slider lid; material=stainless steel|ceramic;"
              " colour=" + COLOURS, "capacity material", subs="tumbler", uses="commuting with coffee"),
            T("bottle brush", "bottle cleaning brush|straw brush", 8,
              "pack size=1 pack|3 pack|5 pack; material=silicone|nylon", "material",
              acc="water bottle|tumbler|travel mug"),
            T("replacement straw lid", "straw lid|tumbler lid", 12,
              "compatible with=Stanley 40 oz|Yeti 20 oz|Hydro Flask wide mouth|Owala 24 oz;"
              " colour=black|white|clear", "", acc="tumbler|water bottle", compat="compatible with"),
        ],
    ),
    "Home > Bath > Towels & Bath Linens": (
        "Amazon Basics|Utopia Towels|Brooklinen|Parachute|Cariloha|Wamsutta|Cotton Craft|Chakir",
        [
            T("bath towel", "towel|shower towel|towels", 30,
              "material=cotton|turkish cotton|egyptian cotton|microfiber|bamboo;"
              " pack size=1 pack|2 pack|4 pack|6 pack; colour=white|grey|navy|beige|sage green|black",
              "material", pscale="pack size", weight=1.5),
            T("hand towel", "hand towels|guest towel", 16,
              "material=cotton|turkish cotton|linen|microfiber; pack size=2 pack|4 pack|6 pack;"
              " colour=white|grey|navy|beige|sage green", "material", pscale="pack size"),
            T("bath mat", "bath rug|shower mat", 24,
              "material=cotton|memory foam|microfiber|teak wood|diatomite; size=17x24 in|20x32 in|24x60 in;"
              " backing=rubber backing|~no backing; colour=white|grey|navy|beige|green", "material",
              neg="bath mat without rubber backing>backing=rubber backing", pscale="size"),
            T("shower curtain", "shower curtains", 22,
              "material=polyester|cotton|vinyl|linen; size=72x72 in|72x84 in; colour=white|grey|navy|beige|green",
              "material", neg="shower curtain not vinyl>material=vinyl"),
        ],
    ),
    "Home > Bedding": (
        "Brooklinen|Parachute|Casper|Amazon Basics|Mellanni|Utopia Bedding|Cariloha|Buffy|Coop Home Goods",
        [
            T("sheet set", "bed sheets|sheets", 60,
              "size=twin|full|queen|king|california king; material=cotton|egyptian cotton|linen|microfiber|bamboo|flannel;"
              " thread count=300 thread count|400 thread count|600 thread count|800 thread count;"
              " colour=white|grey|navy|beige|sage green|blush", "size material", pscale="size",
              neg="sheet set not microfiber>material=microfiber", weight=2.0),
            T("pillow", "bed pillow|pillows", 35,
              "size=standard|queen|king; fill=memory foam|down|down alternative|shredded foam;"
              " pack size=1 pack|2 pack; firmness=soft|medium|firm", "size fill", pscale="pack size",
              neg="pillow without down>fill=down", uses="side sleepers|neck pain|back sleepers", weight=1.5),
            T("comforter", "duvet insert|quilt", 70,
              "size=twin|full|queen|king; fill=down|down alternative; weight=lightweight|all season|heavyweight;"
              " colour=white|grey|navy|beige", "size fill", pscale="size", neg="comforter without down>fill=down"),
            T("duvet cover", "duvet cover set", 60,
              "size=twin|full|queen|king; material=cotton|linen|microfiber|bamboo; colour=white|grey|navy|beige|terracotta",
              "size material", pscale="size", comp="comforter"),
            T("mattress topper", "mattress pad", 80,
              "size=twin|full|queen|king; material=memory foam|latex|down alternative; thickness=2 in|3 in|4 in",
              "thickness material", pscale="size", comp="mattress"),
        ],
    ),
    "Home > Furniture > Bedroom Furniture": (
        "Zinus|Casper|Tempur-Pedic|Sealy|Nectar|Ashley|Sauder|Walker Edison|Novilla",
        [
            T("mattress", "bed mattress", 600,
              "size=twin|full|queen|king; type=memory foam|hybrid|innerspring; firmness=soft|medium|firm",
              "size type", pscale="size", uses="back pain|side sleepers", weight=1.5),
            T("bed frame", "platform bed|bed base", 250,
              "size=twin|full|queen|king; material=metal|solid wood|upholstered;"
              " headboard=with headboard|~no headboard; colour=black|white|grey|walnut",
              "size material", pscale="size", neg="bed frame without headboard>headboard=with headboard"),
            T("nightstand", "bedside table|night stand", 90,
              "drawers=1 drawer|2 drawer|3 drawer; material=solid wood|engineered wood|metal;"
              " colour=white|black|walnut|natural oak|grey", "drawers", pscale="drawers"),
            T("dresser", "chest of drawers", 300,
              "drawers=3 drawer|6 drawer|9 drawer; material=solid wood|engineered wood;"
              " colour=white|black|walnut|natural oak|grey", "drawers", pscale="drawers"),
        ],
    ),
    "Home > Furniture > Living Room Furniture": (
        "Ashley|Zinus|Walker Edison|Christopher Knight Home|Sauder|Novogratz|Rivet|Nathan James|Sauder",
        [
            T("sofa", "couch|settee", 700,
              "material=leather|faux leather|velvet|linen|polyester fabric|microfiber;"
              " seats=2 seat|3 seat|sectional; colour=grey|beige|navy|green|brown|black|cream", "seats material",
              pscale="seats", neg="sofa not leather>material=leather", weight=2.0),
            T("coffee table", "cocktail table|center table", 180,
              "material=solid wood|glass|metal|marble|engineered wood; shape=round|rectangular|oval;"
              " colour=walnut|black|white|natural oak|grey", "shape material",
              neg="coffee table not glass>material=glass", weight=1.5),
            T("accent chair", "armchair|living room chair", 220,
              "material=velvet|leather|linen|boucle; armrests=with arms|~armless; colour=green|grey|beige|navy|pink",
              "material", neg="accent chair without arms>armrests=with arms"),
            T("tv stand", "media console|entertainment center", 160,
              "width=48 in|60 in|70 in; material=engineered wood|solid wood|metal; colour=black|white|walnut|natural oak",
              "width", comp="tv", pscale="width"),
            T("bookshelf", "bookcase|book shelf", 110,
              "shelves=3 shelf|5 shelf; material=engineered wood|solid wood|metal; colour=black|white|walnut|natural oak",
              "shelves material", pscale="shelves"),
        ],
    ),
    "Home > Furniture > Dining Room Furniture": (
        "Ashley|Christopher Knight Home|Walker Edison|Flash Furniture|Nathan James|Safavieh|Winsome",
        [
            T("dining chair", "kitchen chair|dining chairs", 140,
              "material=solid wood|upholstered fabric|metal|plastic|leather; pack size=set of 2|set of 4;"
              " colour=black|white|grey|natural|walnut", "material", pscale="pack size",
              neg="dining chairs not plastic>material=plastic"),
            T("dining table", "kitchen table", 350,
              "material=solid wood|glass|marble|engineered wood; seats=seats 4|seats 6|seats 8;"
              " shape=round|rectangular; colour=black|white|walnut|natural", "shape material", pscale="seats",
              comp="dining chair"),
            T("bar stool", "counter stool|bar stools", 120,
              "height=counter height|bar height; pack size=set of 2|set of 3; material=metal|solid wood|upholstered;"
              " back=with back|~backless; colour=black|white|grey|walnut", "height material",
              neg="bar stools without back>back=with back", pscale="pack size"),
        ],
    ),
    "Home > Furniture > Home Office Furniture": (
        "Herman Miller|Steelcase|Branch|Amazon Basics|Hbada|Sihoo|Flash Furniture|FlexiSpot|Sauder",
        [
            T("office chair", "desk chair|computer chair", 200,
              "material=mesh|leather|faux leather|fabric; armrests=with arms|~armless;"
              " lumbar=adjustable lumbar|~no lumbar support; colour=black|grey|white|blue", "material",
              neg="office chair without arms>armrests=with arms", comp="chair mat",
              uses="back pain|long gaming sessions", weight=2.0),
            T("standing desk", "sit stand desk|adjustable desk", 350,
              "width=40 in|48 in|55 in|63 in; motor=single motor|dual motor; colour=black|white|walnut|natural",
              "width motor", pscale="width", subs="desk"),
            T("desk", "computer desk|writing desk", 150,
              "material=solid wood|engineered wood|metal|glass; shape=l shaped|rectangular;"
              " width=40 in|48 in|55 in; colour=black|white|walnut|natural", "shape", subs="standing desk",
              pscale="width"),
            T("chair mat", "office chair mat|floor protector", 40,
              "floor=for carpet|for hard floor; material=pvc|polycarbonate; size=36x48 in|45x53 in",
              "material", acc="office chair", neg="chair mat not pvc>material=pvc"),
        ],
    ),
    "Home > Lighting": (
        "Philips|GE|Feit Electric|Sylvania|Globe Electric|Brightech|Amazon Basics|Cree",
        [
            T("table lamp", "bedside lamp|lamp", 45,
              "material=ceramic|metal|glass|wood; pack size=1 pack|set of 2; colour=white|black|brass|blue|grey",
              "material", pscale="pack size"),
            T("floor lamp", "standing lamp", 80,
              "style=arc|tripod|torchiere; dimmable=dimmable|~not dimmable; colour=black|brass|white|gold",
              "style", uses="reading|a dark living room"),
            T("desk lamp", "led desk lamp|study lamp", 35,
              "usb port=with usb port|~no usb port; colour=black|white|silver; dimmable=dimmable|~not dimmable",
              "", uses="reading|studying"),
            T("led bulb", "light bulb|led light bulbs|light bulbs", 14,
              "base=E26|E12|GU10; brightness=40W equivalent|60W equivalent|100W equivalent;"
              " colour temperature=soft white 2700K|daylight 5000K; pack size=4 pack|6 pack|12 pack|24 pack;"
              " dimmable=dimmable|~non-dimmable", "brightness colour temperature",
              acc="table lamp|floor lamp|ceiling light", pscale="pack size", weight=1.5),
            T("ceiling light", "flush mount light|ceiling fixture", 60,
              "size=12 in|16 in|20 in; colour=black|brushed nickel|white|gold; dimmable=dimmable|~not dimmable",
              "size", pscale="size"),
        ],
    ),
    "Home > Storage & Organization": (
        "mDesign|Sterilite|IRIS USA|Amazon Basics|Simple Houseware|Whitmor|Honey-Can-Do|Rubbermaid",
        [
            T("storage bin", "storage box|tote|storage container", 25,
              "material=plastic|fabric|wicker|canvas; capacity=12 qt|27 gal|64 qt; lid=with lid|~no lid;"
              " pack size=1 pack|4 pack|6 pack; colour=clear|grey|white|beige|black", "capacity material",
              neg="storage bins without lid>lid=with lid", pscale="pack size"),
            T("shoe rack", "shoe organizer|shoe shelf", 35,
              "tiers=3 tier|4 tier|10 tier; material=metal|bamboo|wood|fabric", "tiers material", pscale="tiers"),
            T("hangers", "clothes hangers|coat hangers", 20,
              "material=velvet|wood|plastic|metal; pack size=20 pack|50 pack|100 pack; colour=black|white|grey|natural",
              "material", pscale="pack size", neg="hangers not plastic>material=plastic"),
            T("drawer organizer", "drawer dividers", 18,
              "material=bamboo|plastic|fabric; pack size=1 pack|4 pack|8 pack", "material"),
        ],
    ),
    "Garden & Outdoor > Patio Furniture": (
        "Christopher Knight Home|Polywood|Keter|Best Choice Products|Sunnydaze|Amazon Basics|Classic Accessories",
        [
            T("patio chair", "outdoor chair|lawn chair", 120,
              "material=resin wicker|aluminum|teak|hdpe lumber|steel; pack size=set of 2|set of 4;"
              " colour=black|white|grey|brown|navy", "material", pscale="pack size"),
            T("patio table", "outdoor table", 200,
              "material=aluminum|teak|glass|resin; shape=round|rectangular|square; seats=seats 4|seats 6",
              "shape material", pscale="seats"),
            T("patio umbrella", "outdoor umbrella|market umbrella", 90,
              "size=7.5 ft|9 ft|11 ft; style=market|cantilever|offset; colour=beige|navy|red|green|grey",
              "size style", pscale="size", comp="umbrella base"),
            T("patio set", "patio conversation set|outdoor furniture set", 450,
              "pieces=3 piece|4 piece|5 piece|7 piece; material=resin wicker|aluminum|teak|steel",
              "pieces material", pscale="pieces", weight=1.5),
            T("patio furniture cover", "outdoor furniture cover", 35,
              "size=small|medium|large; material=polyester|vinyl; colour=black|beige|grey|green", "size",
              acc="patio chair|patio table|patio set", pscale="size"),
            T("umbrella base", "umbrella stand", 50,
              "weight=30 lb|50 lb|75 lb; material=cast iron|resin|concrete; colour=black|bronze",
              "weight material", acc="patio umbrella", pscale="weight"),
        ],
    ),
    "Garden & Outdoor > Grills & Outdoor Cooking": (
        "Weber|Traeger|Char-Broil|Nexgrill|Pit Boss|Blackstone|Cuisinart|Kamado Joe",
        [
            T("gas grill", "propane grill|bbq grill|barbecue grill", 450,
              "burners=2 burner|3 burner|4 burner; fuel=propane|natural gas; colour=black|stainless steel|blue",
              "burners fuel", pscale="burners", subs="charcoal grill|griddle", weight=1.5),
            T("charcoal grill", "kettle grill", 180,
              "size=18 in|22 in|26 in; style=kettle|barrel|kamado; colour=black|red|green", "size style",
              pscale="size", subs="gas grill"),
            T("pellet grill", "pellet smoker|smoker", 700,
              "cooking area=450 sq in|700 sq in|900 sq in; wifi=wifi|~no wifi; colour=black|bronze",
              "cooking area", pscale="cooking area", comp="wood pellets", uses="smoking brisket|smoking ribs"),
            T("griddle", "flat top grill|outdoor griddle", 300,
              "size=22 in|28 in|36 in; burners=2 burner|4 burner", "size", pscale="size", subs="gas grill"),
            T("grill cover", "bbq cover|barbecue cover", 35,
              "size=small|medium|large|58 in; material=polyester|vinyl; colour=black|grey|khaki", "size",
              acc="gas grill|charcoal grill|pellet grill|griddle", pscale="size"),
            T("grill brush", "grill cleaning brush|grill scraper", 18,
              "bristles=bristle free|wire bristles; handle=18 in|12 in", "bristles",
              acc="gas grill|charcoal grill|griddle", neg="grill brush without bristles>bristles=wire bristles"),
            T("wood pellets", "smoker pellets|grill pellets", 20,
              "flavor=hickory|mesquite|apple|cherry|competition blend; weight=20 lb|40 lb", "flavor weight",
              acc="pellet grill", pscale="weight"),
        ],
    ),
    "Garden & Outdoor > Lawn & Garden": (
        "EGO|Greenworks|DeWalt|Ryobi|Black+Decker|Toro|Husqvarna|Craftsman|WORX|Flexzilla|Gilmour",
        [
            T("lawn mower", "mower|push mower", 400,
              "power=gas|battery|corded electric; cutting width=20 in|21 in|30 in; drive=push|self propelled",
              "power cutting width", pscale="cutting width", weight=1.5),
            T("string trimmer", "weed eater|weed wacker|weed trimmer", 150,
              "power=gas|battery|corded electric; voltage=20V|40V|56V", "power", subs="hedge trimmer"),
            T("leaf blower", "blower", 160,
              "power=gas|battery|corded electric; style=handheld|backpack", "power style",
              neg="leaf blower not gas>power=gas"),
            T("hedge trimmer", "hedge clippers|bush trimmer", 110,
              "power=gas|battery|corded electric; blade length=18 in|22 in|24 in", "power", pscale="blade length"),
            T("trimmer line", "weed eater string|trimmer string", 15,
              "diameter=.065 in|.080 in|.095 in; length=50 ft|200 ft|500 ft", "diameter", acc="string trimmer",
              pscale="length"),
            T("garden hose", "hose|water hose", 40,
              "length=25 ft|50 ft|100 ft; material=rubber|vinyl|expandable|hybrid polymer; colour=green|black|blue",
              "length material", pscale="length", comp="hose nozzle", neg="garden hose not vinyl>material=vinyl"),
            T("hose nozzle", "spray nozzle|hose sprayer", 12,
              "material=metal|plastic; patterns=7 pattern|10 pattern", "material", acc="garden hose"),
        ],
    ),
    "Tools & Home Improvement > Power Tools": (
        "DeWalt|Milwaukee|Makita|Ryobi|Black+Decker|Bosch|Craftsman|Ridgid",
        [
            T("cordless drill", "drill|power drill|drill driver", 130,
              "voltage=12V|18V|20V; battery=battery included|~tool only", "voltage",
              neg="cordless drill without battery>battery=battery included", comp="drill bit set|battery pack",
              subs="impact driver", weight=2.0),
            T("impact driver", "impact drill", 140,
              "voltage=12V|18V|20V; battery=battery included|~tool only", "voltage", subs="cordless drill",
              neg="impact driver without battery>battery=battery included"),
            T("circular saw", "skil saw|circ saw", 150,
              "blade size=6-1/2 in|7-1/4 in; power=cordless|corded", "blade size power",
              uses="cutting plywood|framing"),
            T("drill bit set", "drill bits", 30,
              "pieces=21 piece|29 piece|100 piece; material=titanium|cobalt|black oxide", "pieces material",
              acc="cordless drill|impact driver", pscale="pieces"),
            T("battery pack", "replacement battery|tool battery", 90,
              "compatible with=DeWalt 20V|Milwaukee M18|Ryobi 18V|Makita 18V; capacity=2.0Ah|5.0Ah",
              "capacity", acc="cordless drill|impact driver|circular saw|string trimmer|leaf blower",
              compat="compatible with", pscale="capacity"),
        ],
    ),
    "Tools & Home Improvement > Hand Tools": (
        "Stanley|Craftsman|DeWalt|Klein Tools|Estwing|Milwaukee|Tekton|GearWrench",
        [
            T("hammer", "claw hammer", 25,
              "weight=16 oz|20 oz|22 oz; handle=fiberglass|steel|wood", "weight handle",
              neg="hammer not wood handle>handle=wood"),
            T("screwdriver set", "screwdrivers", 30,
              "pieces=6 piece|10 piece|42 piece; tips=magnetic tips|~standard tips", "pieces", pscale="pieces"),
            T("tape measure", "measuring tape", 18, "length=16 ft|25 ft|35 ft", "length", pscale="length"),
            T("socket set", "wrench set|ratchet set", 70,
              "pieces=40 piece|120 piece|230 piece; units=SAE|metric|SAE and metric", "pieces units",
              pscale="pieces", weight=1.2),
            T("tool box", "toolbox|tool chest", 40,
              "material=plastic|metal; size=16 in|22 in|26 in", "size material", pscale="size",
              comp="socket set|hammer|screwdriver set"),
        ],
    ),
    "Electronics > Cell Phones": (
        "Apple|Samsung|Google|Motorola",
        [
            T("smartphone", "cell phone|phone|mobile phone", 650,
              "storage=128GB|256GB|512GB; colour=black|white|blue|pink|green|purple;"
              " carrier=unlocked|verizon|at&t", "model storage",
              brand_values={"model": {
                  "Apple": ("iPhone 15", "iPhone 15 Pro", "iPhone 14"),
                  "Samsung": ("Galaxy S24", "Galaxy S24 Ultra", "Galaxy A15"),
                  "Google": ("Pixel 8", "Pixel 8a"),
                  "Motorola": ("Moto G Power", "Razr"),
              }},
              comp="phone case|screen protector|phone charger", pscale="storage", weight=3.0),
        ],
    ),
    "Electronics > Cell Phone Accessories": (
        "OtterBox|Spigen|Anker|Belkin|ZAGG|Casetify|ESR|Amazon Basics|Apple|Samsung",
        [
            T("phone case", "case|cell phone case|iphone case", 25,
              "compatible with=iPhone 15|iPhone 15 Pro|iPhone 14|Galaxy S24|Galaxy S24 Ultra|Galaxy A15|Pixel 8|Pixel 8a;"
              " material=silicone|leather|clear polycarbonate|rugged tpu;"
              " magsafe=magsafe compatible|~no magsafe; colour=black|clear|pink|blue|purple|green",
              "material", acc="smartphone", compat="compatible with", neg="phone case not leather>material=leather",
              weight=2.5),
            T("screen protector", "screen guard|glass screen protector", 12,
              "compatible with=iPhone 15|iPhone 15 Pro|iPhone 14|Galaxy S24|Galaxy S24 Ultra|Pixel 8;"
              " material=tempered glass|film; pack size=1 pack|2 pack|3 pack; privacy=privacy|~clear",
              "material", acc="smartphone", compat="compatible with", pscale="pack size"),
            T("phone charger", "charger|wall charger|charging block", 20,
              "connector=USB-C|Lightning; wattage=20W|30W|65W; pack size=1 pack|2 pack", "wattage connector",
              acc="smartphone|laptop", pscale="wattage", weight=1.5),
            T("charging cable", "charger cord|usb c cable|lightning cable", 12,
              "connector=USB-C to USB-C|USB-C to Lightning|USB-A to Lightning; length=3 ft|6 ft|10 ft;"
              " pack size=1 pack|2 pack|3 pack", "connector length", acc="smartphone", pscale="length"),
            T("power bank", "portable charger|battery bank", 35,
              "capacity=5000mAh|10000mAh|20000mAh; colour=black|white|blue", "capacity", subs="phone charger",
              acc="smartphone", pscale="capacity"),
        ],
    ),
    "Electronics > Computers > Laptops": (
        "Apple|Dell|HP|Lenovo|ASUS|Acer|Microsoft|Samsung",
        [
            T("laptop", "notebook computer|laptop computer", 900,
              "screen size=13.3 in|14 in|15.6 in|16 in; memory=8GB RAM|16GB RAM|32GB RAM;"
              " storage=256GB SSD|512GB SSD|1TB SSD; touchscreen=touchscreen|~non-touch; colour=silver|space grey|black",
              "screen size memory", pscale="memory", comp="laptop sleeve|usb c hub|wireless mouse",
              uses="college|gaming|video editing", weight=2.5),
            T("chromebook", "chrome book", 300,
              "screen size=11.6 in|14 in|15.6 in; memory=4GB RAM|8GB RAM; colour=silver|grey",
              "screen size memory", subs="laptop", uses="school|kids"),
            T("tablet", "tablet computer|touchscreen tablet", 400,
              "screen size=8 in|10.9 in|12.9 in; storage=64GB|128GB|256GB; colour=silver|space grey|blue|pink",
              "screen size storage", pscale="storage", subs="laptop", uses="kids|reading|drawing"),
        ],
    ),
    "Electronics > Computers > Computer Accessories": (
        "Logitech|Anker|Belkin|Razer|Corsair|Amazon Basics|Apple|Microsoft|Targus",
        [
            T("wireless mouse", "mouse|computer mouse|bluetooth mouse", 30,
              "connection=bluetooth|usb receiver; shape=ergonomic|standard; colour=black|white|grey|pink",
              "shape", acc="laptop", weight=1.5),
            T("keyboard", "wireless keyboard|computer keyboard", 60,
              "connection=bluetooth|usb receiver|wired; layout=full size|tenkeyless|compact;"
              " switches=mechanical|membrane", "layout switches", comp="wireless mouse"),
            T("laptop sleeve", "laptop case|laptop bag", 25,
              "fits=13 in|14 in|15.6 in|16 in; material=neoprene|leather|polyester|felt; colour=black|grey|navy|pink",
              "fits material", acc="laptop|chromebook", compat="fits"),
            T("laptop stand", "laptop riser", 30,
              "material=aluminum|plastic|wood; adjustable=adjustable|~fixed height; colour=silver|black",
              "material", acc="laptop"),
            T("usb c hub", "usb hub|docking station|usb c adapter", 35,
              "ports=4 in 1|7 in 1|11 in 1; colour=grey|silver|black", "ports", acc="laptop|tablet", pscale="ports"),
            T("monitor", "computer monitor|computer screen", 250,
              "screen size=24 in|27 in|32 in; resolution=1080p|1440p|4K; refresh rate=60Hz|144Hz|240Hz",
              "screen size resolution", pscale="screen size", uses="gaming|working from home", weight=1.5),
        ],
    ),
    "Electronics > Audio": (
        "Sony|Bose|JBL|Apple|Samsung|Anker|Beats|Sennheiser|Skullcandy",
        [
            T("headphones", "over ear headphones|headset", 180,
              "connection=wireless|wired; noise cancelling=noise cancelling|~no noise cancelling;"
              " colour=black|white|silver|blue|pink", "connection noise cancelling", subs="wireless earbuds",
              neg="headphones not wireless>connection=wireless", uses="travel|working out|gaming", weight=2.0),
            T("wireless earbuds", "earbuds|bluetooth earbuds|earphones", 120,
              "noise cancelling=noise cancelling|~no noise cancelling; case=wireless charging case|~standard case;"
              " colour=black|white|blue|pink", "noise cancelling", subs="headphones",
              uses="running|working out|phone calls", weight=2.5),
            T("bluetooth speaker", "portable speaker|wireless speaker", 90,
              "waterproof=waterproof|~not waterproof; size=mini|medium|large; colour=black|blue|red|grey",
              "size waterproof", pscale="size", uses="the beach|the shower|parties"),
            T("soundbar", "sound bar", 300,
              "channels=2.0|2.1|5.1; subwoofer=with subwoofer|~no subwoofer", "channels", comp="tv",
              pscale="channels"),
            T("headphone case", "headphones case|earbuds case", 15,
              "material=hard shell eva|silicone|leather; colour=black|grey|pink", "material",
              acc="headphones|wireless earbuds"),
        ],
    ),
    "Electronics > TV & Video": (
        "Samsung|LG|Sony|TCL|Hisense|Vizio|Roku|Amazon",
        [
            T("tv", "television|smart tv|tvs", 550,
              "screen size=32 in|43 in|55 in|65 in|75 in; resolution=1080p|4K|8K; panel=LED|QLED|OLED",
              "screen size resolution panel", pscale="screen size", comp="soundbar|tv stand",
              uses="gaming|a bedroom|watching sports", weight=3.0),
            T("tv wall mount", "tv mount|tv bracket", 40,
              "style=fixed|tilting|full motion; fits=32-55 in|42-75 in|55-90 in", "style", acc="tv",
              compat="fits"),
            T("hdmi cable", "hdmi cord", 12,
              "length=3 ft|6 ft|10 ft|15 ft; version=HDMI 2.0|HDMI 2.1; pack size=1 pack|2 pack|3 pack",
              "length version", acc="tv|monitor", pscale="length"),
            T("streaming device", "streaming stick|streaming player", 40,
              "resolution=HD|4K; voice remote=voice remote|~standard remote", "resolution", comp="tv"),
        ],
    ),
    "Clothing, Shoes & Jewelry > Shoes": (
        "Nike|Adidas|New Balance|Brooks|ASICS|Skechers|Hoka|Timberland|Dr. Martens|UGG|Converse|Vans|Crocs",
        [
            T("running shoes", "running sneakers|runners", 110,
              f"{GENDER}|kids'; {SHOE_SIZE}; width=~regular width|wide; colour=black|white|grey|blue|pink",
              "gender", subs="sneakers", comp="shoe insoles|socks", uses="marathon training|trail running|flat feet",
              weight=2.5),
            T("sneakers", "tennis shoes|casual shoes", 80,
              f"{GENDER}|kids'; {SHOE_SIZE}; material=leather|canvas|mesh|suede; colour=black|white|grey|navy|red",
              "gender material", subs="running shoes", neg="sneakers not leather>material=leather", weight=2.0),
            T("boots", "boot|ankle boots", 130,
              f"{GENDER}; {SHOE_SIZE}; material=leather|suede|rubber|synthetic; style=chelsea|work|hiking|rain|ankle;"
              " colour=black|brown|tan|grey", "gender material style",
              neg="boots not leather>material=leather", uses="hiking|snow|work", weight=1.5),
            T("sandals", "slides|flip flops", 45,
              f"{GENDER}; {SHOE_SIZE}; material=leather|rubber|cork|synthetic; colour=black|brown|white|tan",
              "gender material", neg="sandals not leather>material=leather"),
            T("slippers", "house shoes", 35,
              f"{GENDER}; {SHOE_SIZE}; material=sheepskin|fleece|memory foam|wool; colour=grey|brown|black|pink",
              "gender material"),
            T("shoe insoles", "insoles|arch support inserts|orthotic insoles", 25,
              "gender=women's|men's|unisex; size=S|M|L; support=arch support|cushioning", "support",
              acc="running shoes|boots|sneakers", uses="plantar fasciitis|flat feet"),
        ],
    ),
    "Clothing, Shoes & Jewelry > Outerwear": (
        "The North Face|Columbia|Patagonia|Carhartt|Nike|Amazon Essentials|Helly Hansen|Arc'teryx",
        [
            T("rain jacket", "raincoat|rain coat|waterproof jacket", 100,
              f"{GENDER}; {APPAREL_SIZE}; hood=hooded|~no hood; colour=black|navy|yellow|green|red",
              "gender hood", neg="rain jacket without hood>hood=hooded", subs="puffer jacket", weight=1.5),
            T("puffer jacket", "puffer coat|puffy jacket|winter coat", 160,
              f"{GENDER}; {APPAREL_SIZE}; fill=down|synthetic insulation; hood=hooded|~no hood;"
              " colour=black|navy|olive|red|cream", "gender fill", neg="puffer jacket without down>fill=down",
              weight=1.5),
            T("fleece jacket", "fleece|fleece pullover", 60,
              f"{GENDER}; {APPAREL_SIZE}; style=full zip|quarter zip; colour=black|grey|navy|green|cream",
              "gender style"),
        ],
    ),
    "Clothing, Shoes & Jewelry > Activewear & Basics": (
        "Nike|Adidas|Under Armour|Lululemon|Champion|Hanes|Gildan|Fruit of the Loom|Amazon Essentials|Gymshark",
        [
            T("t-shirt", "tee|tshirt|t shirt", 20,
              f"{GENDER}; {APPAREL_SIZE}; material=cotton|polyester|tri-blend|linen; pack size=1 pack|3 pack|6 pack;"
              " sleeve=short sleeve|long sleeve; colour=black|white|grey|navy|green", "gender sleeve material",
              neg="t-shirt not polyester>material=polyester", pscale="pack size", weight=1.5),
            T("hoodie", "hooded sweatshirt|sweatshirt", 45,
              f"{GENDER}; {APPAREL_SIZE}; material=cotton|fleece|polyester; style=pullover|zip up;"
              " colour=black|grey|navy|green|cream", "gender style", weight=1.5),
            T("leggings", "yoga pants|workout leggings|tights", 45,
              f"gender=women's; {APPAREL_SIZE}; pockets=with pockets|~no pockets; rise=high waisted|mid rise;"
              " colour=black|navy|grey|olive|burgundy", "rise pockets", subs="joggers"),
            T("joggers", "sweatpants|track pants", 40,
              f"{GENDER}; {APPAREL_SIZE}; material=cotton|fleece|polyester; colour=black|grey|navy|olive",
              "gender material", subs="leggings"),
            T("socks", "athletic socks|crew socks", 16,
              f"{GENDER}; style=crew|ankle|no show; pack size=6 pack|12 pack; material=cotton|wool|polyester",
              "gender style", pscale="pack size", neg="socks not cotton>material=cotton"),
        ],
    ),
    "Beauty & Personal Care > Hair Care": (
        "Pantene|Olaplex|OGX|Dove|L'Oreal|Head & Shoulders|Dyson|Revlon|Redken|SheaMoisture|Conair",
        [
            T("shampoo", "hair shampoo", 12,
              "size=12 fl oz|28 fl oz|33.8 fl oz; sulfates=sulfate free|contains sulfates;"
              " hair type=curly|color treated|dry|oily|fine; scent=unscented|coconut|argan oil|tea tree",
              "hair type", neg="shampoo without sulfates>sulfates=contains sulfates", comp="conditioner",
              pscale="size", uses="dandruff|oily hair|curly hair", weight=2.0),
            T("conditioner", "hair conditioner", 12,
              "size=12 fl oz|28 fl oz|33.8 fl oz; sulfates=sulfate free|contains sulfates;"
              " hair type=curly|color treated|dry|fine; scent=unscented|coconut|argan oil",
              "hair type", comp="shampoo", pscale="size", uses="frizzy hair|dry hair"),
            T("hair dryer", "blow dryer|hairdryer", 80,
              "wattage=1600W|1875W; technology=ionic|ceramic|tourmaline; colour=black|pink|white|purple",
              "technology", uses="thick hair|travel", weight=1.5),
            T("hair straightener", "flat iron|straightener", 60,
              "plate=ceramic|titanium|tourmaline; width=1 in|1.5 in|2 in; colour=black|pink|rose gold",
              "width plate"),
        ],
    ),
    "Beauty & Personal Care > Skin Care": (
        "CeraVe|Neutrogena|La Roche-Posay|Cetaphil|Olay|Aveeno|The Ordinary|Clinique",
        [
            T("moisturizer", "face cream|face lotion|moisturiser", 18,
              "skin type=dry|oily|sensitive|combination; fragrance=fragrance free|scented; spf=~no spf|SPF 30;"
              " size=1.7 oz|3 oz|16 oz", "spf", neg="moisturizer without fragrance>fragrance=scented",
              uses="dry skin|acne prone skin|sensitive skin", weight=2.0),
            T("sunscreen", "sunblock|sun screen", 14,
              "spf=SPF 30|SPF 50|SPF 70; form=lotion|spray|stick; filter=mineral|chemical;"
              " fragrance=fragrance free|scented", "spf form", neg="sunscreen without fragrance>fragrance=scented",
              uses="kids|the face|swimming", weight=1.5),
            T("face wash", "facial cleanser|cleanser", 13,
              "skin type=dry|oily|sensitive|combination; form=foaming|cream|gel; fragrance=fragrance free|scented",
              "form", neg="face wash without fragrance>fragrance=scented", uses="acne|oily skin"),
        ],
    ),
    "Pet Supplies > Dogs": (
        "Purina|Blue Buffalo|Hill's Science Diet|Royal Canin|KONG|PetSafe|Frisco|Ruffwear|Nylabone|Pedigree",
        [
            T("dog food", "dry dog food|kibble", 45,
              "form=dry|wet; flavor=chicken|beef|salmon|lamb; grain=grain free|with grain;"
              " life stage=puppy|adult|senior; weight=4 lb|15 lb|30 lb", "life stage flavor",
              neg="dog food without grain>grain=with grain", pscale="weight", weight=2.5),
            T("dog bed", "pet bed", 55,
              "size=small|medium|large|extra large; material=memory foam|orthopedic foam|polyester fill;"
              " colour=grey|brown|beige|navy", "size material", pscale="size", uses="large dogs|senior dogs"),
            T("dog leash", "leash|lead", 18,
              "length=4 ft|6 ft|16 ft retractable; material=nylon|leather|rope; colour=black|red|blue|pink",
              "length material", comp="dog harness|dog collar", neg="dog leash not retractable>length=16 ft retractable"),
            T("dog harness", "no pull harness|harness", 28,
              "size=small|medium|large; style=no pull|step in|vest; colour=black|red|blue|pink", "style",
              comp="dog leash", uses="dogs that pull"),
            T("dog collar", "collar", 15,
              "size=small|medium|large; material=nylon|leather|martingale; colour=black|red|blue|pink",
              "material", comp="dog leash"),
            T("dog toy", "chew toy|dog chew toy", 12,
              "material=rubber|plush|rope|nylon; size=small|medium|large; squeaker=with squeaker|~no squeaker",
              "material", neg="dog toy without squeaker>squeaker=with squeaker", uses="aggressive chewers|puppies"),
        ],
    ),
    "Pet Supplies > Cats": (
        "Purina|Fresh Step|Arm & Hammer|Tidy Cats|Frisco|Catit|Blue Buffalo|Hill's Science Diet|Dr. Elsey's",
        [
            T("cat litter", "kitty litter|litter", 20,
              "type=clumping clay|crystal|pine|walnut; scent=unscented|scented; weight=14 lb|20 lb|40 lb",
              "type", neg="cat litter without scent>scent=scented", pscale="weight", weight=1.5),
            T("litter box", "cat litter box|litter pan", 35,
              "style=covered|open|self cleaning|top entry; size=standard|large|jumbo", "style", comp="cat litter",
              pscale="size"),
            T("cat tree", "cat tower|cat condo", 70,
              "height=34 in|54 in|72 in; colour=grey|beige|brown", "height", pscale="height"),
            T("cat food", "dry cat food|wet cat food", 30,
              "form=dry|wet pate|wet chunks; flavor=chicken|salmon|tuna|turkey; life stage=kitten|adult|senior",
              "life stage flavor", neg="cat food without fish>flavor=salmon|tuna", weight=1.5),
            T("litter scoop", "cat litter scoop|pooper scooper", 10,
              "material=metal|plastic; size=standard|large", "material", acc="litter box"),
        ],
    ),
    "Sports & Outdoors > Camping & Hiking": (
        "Coleman|Kelty|Marmot|Black Diamond|Big Agnes|Nemo|Teton Sports|Petzl|Yeti|Igloo|RTIC",
        [
            T("tent", "camping tent", 180,
              "capacity=2 person|4 person|6 person|8 person; season=3 season|4 season; style=dome|cabin|backpacking",
              "capacity style", pscale="capacity", comp="sleeping bag|sleeping pad", uses="backpacking|family camping",
              weight=1.5),
            T("sleeping bag", "sleep bag", 90,
              "temperature rating=0 degree|20 degree|40 degree; fill=down|synthetic; shape=mummy|rectangular",
              "temperature rating fill", neg="sleeping bag without down>fill=down", comp="sleeping pad",
              uses="winter camping|backpacking"),
            T("sleeping pad", "camping pad|sleeping mat", 60,
              "type=inflatable|self inflating|foam; thickness=1 in|2 in|3.5 in", "type", comp="sleeping bag"),
            T("camping chair", "folding chair|camp chair", 40,
              "style=folding|rocking|backpacking; weight capacity=250 lb|300 lb|400 lb; colour=black|green|blue|red",
              "style", pscale="weight capacity"),
            T("headlamp", "head lamp|head torch", 25,
              "brightness=300 lumens|400 lumens|1000 lumens; power=rechargeable|AAA batteries; pack size=1 pack|2 pack",
              "brightness", pscale="brightness", uses="night running|camping"),
            T("cooler", "ice chest|cooler box", 120,
              "capacity=20 qt|45 qt|65 qt; style=hard|soft; colour=white|tan|blue|grey", "capacity style",
              pscale="capacity", uses="camping|fishing|tailgating", weight=1.5),
        ],
    ),
    "Sports & Outdoors > Exercise & Fitness": (
        "Bowflex|CAP Barbell|Amazon Basics|Gaiam|Manduka|Lululemon|TheraBand|TriggerPoint|Fit Simplify|Rogue",
        [
            T("yoga mat", "exercise mat|workout mat", 35,
              "thickness=4mm|6mm|1/2 in; material=PVC|TPE|natural rubber|cork; colour=black|purple|blue|green|pink",
              "thickness material", neg="yoga mat not pvc>material=PVC", comp="yoga mat bag",
              uses="hot yoga|pilates", weight=1.5),
            T("dumbbells", "dumbbell set|hand weights|dumbbell", 40,
              "weight=5 lb|10 lb|20 lb|50 lb|adjustable 5-52.5 lb; material=neoprene|cast iron|rubber hex;"
              " pack size=pair|single", "weight material", pscale="weight", subs="kettlebell", weight=1.5),
            T("resistance bands", "exercise bands|workout bands", 20,
              "pack size=5 pack|11 piece; style=loop|tube with handles|fabric; material=latex|fabric|TPE",
              "style", neg="resistance bands without latex>material=latex"),
            T("foam roller", "muscle roller", 25,
              "density=soft|medium|firm; length=12 in|18 in|36 in", "density length", pscale="length",
              uses="muscle recovery|back pain"),
            T("kettlebell", "kettle bell", 45,
              "weight=10 lb|15 lb|25 lb|35 lb|53 lb; material=cast iron|vinyl coated|competition steel",
              "weight material", pscale="weight", subs="dumbbells"),
            T("yoga mat bag", "yoga mat strap|yoga mat carrier", 20,
              "material=canvas|polyester; colour=black|grey|purple|blue", "material", acc="yoga mat"),
        ],
    ),
    "Baby > Baby Gear": (
        "Graco|Chicco|UPPAbaby|Evenflo|Baby Jogger|Britax|Nuna|Infant Optics|Owlet",
        [
            T("stroller", "baby stroller|pram", 250,
              "style=full size|lightweight|jogging|double; colour=black|grey|navy|beige", "style",
              comp="stroller organizer|car seat", uses="travel|jogging|twins", weight=1.5),
            T("car seat", "infant car seat|baby car seat", 200,
              "type=infant|convertible|booster; colour=black|grey|navy|red", "type", comp="stroller"),
            T("baby monitor", "video baby monitor", 120,
              "connection=wifi|non-wifi|audio only; screen=5 in screen|~no screen", "connection",
              neg="baby monitor without wifi>connection=wifi"),
            T("stroller organizer", "stroller caddy|stroller cup holder", 20,
              "material=polyester|neoprene; colour=black|grey", "material", acc="stroller"),
        ],
    ),
    "Baby > Diapering": (
        "Pampers|Huggies|Luvs|Honest|Hello Bello|WaterWipes|Desitin|Aquaphor",
        [
            T("diapers", "diaper|nappies", 40,
              "size=newborn|size 1|size 2|size 3|size 4|size 5|size 6; count=32 count|84 count|168 count",
              "size count", pscale="count", comp="baby wipes", weight=2.0),
            T("baby wipes", "wipes|wet wipes", 20,
              "scent=unscented|scented; pack size=3 pack|6 pack|12 pack", "scent", pscale="pack size",
              comp="diapers", neg="baby wipes without fragrance>scent=scented"),
            T("diaper cream", "diaper rash cream|rash cream", 10,
              "size=2 oz|4 oz|16 oz; formula=zinc oxide|petroleum jelly|natural", "formula", comp="diapers"),
        ],
    ),
    "Office Products > Office Supplies": (
        "Pilot|BIC|Paper Mate|Sharpie|Post-it|Five Star|Moleskine|Amazon Basics|Mead|Leuchtturm1917",
        [
            T("pens", "ballpoint pens|gel pens|pen", 12,
              "style=ballpoint|gel|rollerball|felt tip; ink colour=black|blue|assorted; pack size=12 pack|24 pack|60 pack",
              "style ink colour", pscale="pack size", weight=1.5),
            T("notebook", "spiral notebook|journal|composition notebook", 10,
              "ruling=college ruled|wide ruled|dotted|blank; size=8.5x11 in|A5; pack size=1 pack|3 pack|6 pack",
              "ruling size", pscale="pack size"),
            T("sticky notes", "post it notes|sticky pads", 9,
              "size=3x3 in|4x6 in; pack size=6 pack|12 pack|24 pack; colour=yellow|assorted|pastel",
              "size", pscale="pack size"),
        ],
    ),
    "Office Products > Printers & Ink": (
        "HP|Canon|Epson|Brother",
        [
            T("printer", "wireless printer|all in one printer", 180,
              "technology=inkjet|laser; output=color|monochrome; connectivity=wireless|~usb only",
              "technology output", comp="ink cartridge|printer paper", uses="home office|photos", weight=1.5),
            T("ink cartridge", "printer ink|ink", 35,
              "compatible with=HP 67|HP 910|Canon PG-245|Epson 212|Brother LC3013; colour=black|tri-color|combo pack",
              "colour", acc="printer", compat="compatible with"),
            T("printer paper", "copy paper|paper", 25,
              "size=letter|legal; weight=20 lb|24 lb; sheets=500 sheets|2500 sheets|5000 sheets", "size",
              acc="printer", pscale="sheets"),
        ],
    ),
    "Toys & Games > Toys": (
        "LEGO|Mattel|Melissa & Doug|Fisher-Price|Hot Wheels|Nerf|Squishmallows|Mega Bloks",
        [
            T("building set", "building blocks|building kit", 50,
              "pieces=250 piece|500 piece|1000 piece; age=4+|8+|12+; theme=city|space|castle|cars|botanical",
              "theme pieces", pscale="pieces", uses="kids|adults", weight=1.5),
            T("stuffed animal", "plush toy|plushie", 20,
              "animal=bear|dog|unicorn|dinosaur|cat; size=8 in|12 in|24 in", "size animal", pscale="size"),
        ],
    ),
    "Toys & Games > Games & Puzzles": (
        "Hasbro|Mattel|Ravensburger|Buffalo Games|Melissa & Doug|Asmodee|Exploding Kittens",
        [
            T("jigsaw puzzle", "puzzle|puzzles", 20,
              "pieces=300 piece|500 piece|1000 piece|2000 piece; theme=landscape|animals|map|art",
              "pieces theme", pscale="pieces"),
            T("board game", "family game|tabletop game", 30,
              "players=2-4 players|2-6 players|2-8 players; age=8+|12+|18+; type=strategy|party|family|cooperative",
              "type", uses="game night|families"),
        ],
    ),
}

# Types whose makers differ from their category's usual brands ("Dell" makes laptops, not tablets).
BRANDS_BY_TYPE: dict[str, str] = {
    "chain mail scrubber": "Lodge|Herda|Knapp Made|Amazon Basics|OXO",
    "cast iron conditioner": "Lodge|Crisbee|Caron & Doucet|Field Company",
    "dish brush": "OXO|Casabella|Full Circle|Scrub Daddy|Amazon Basics",
    "dish soap": "Dawn|Seventh Generation|Mrs. Meyer's|Method|Palmolive|Ecover",
    "pot lid": "Cuisinart|Calphalon|Lodge|T-fal|Farberware|Amazon Basics",
    "cutting board": "OXO|John Boos|Farberware|Joseph Joseph|Totally Bamboo|Amazon Basics",
    "silicone spatula": "OXO|GIR|Di Oro|KitchenAid|Farberware",
    "coffee maker": "Keurig|Cuisinart|Mr. Coffee|Breville|Ninja|Hamilton Beach|De'Longhi",
    "blender": "Ninja|Vitamix|Blendtec|Hamilton Beach|KitchenAid|Cuisinart|Black+Decker",
    "toaster": "Cuisinart|Breville|Hamilton Beach|KitchenAid|Black+Decker|Smeg",
    "air fryer": "Ninja|Instant|Cosori|Chefman|Cuisinart|Philips",
    "electric kettle": "Cuisinart|Fellow|Hamilton Beach|Breville|Cosori|Smeg",
    "stand mixer": "KitchenAid|Cuisinart|Hamilton Beach|Kenwood|Breville",
    "coffee filter": "Melitta|Bunn|Mr. Coffee|If You Care|Amazon Basics|Cuisinart",
    "air fryer liners": "Cosori|Ninja|Katbite|Amazon Basics|Instant",
    "descaling solution": "Urnex|Impresa|Keurig|Affresh|Breville",
    "coffee pods": "Starbucks|Green Mountain|Folgers|Dunkin|Peet's|Lavazza|Death Wish",
    "ground coffee": "Starbucks|Folgers|Dunkin|Peet's|Lavazza|Death Wish|Maxwell House",
    "whole bean coffee": "Starbucks|Peet's|Lavazza|Death Wish|Stumptown|Kicking Horse",
    "tea bags": "Twinings|Bigelow|Tazo|Lipton|Yogi|Harney & Sons",
    "bottle brush": "OXO|Hydro Flask|Amazon Basics|CamelBak|Owala",
    "replacement straw lid": "Stanley|Yeti|Hydro Flask|Owala|Amazon Basics|Simple Modern",
    "mattress": "Zinus|Casper|Tempur-Pedic|Sealy|Nectar|Purple|Serta|Saatva",
    "bed frame": "Zinus|Novilla|Walker Edison|Ashley|Allewie|Amazon Basics",
    "nightstand": "Ashley|Sauder|Walker Edison|South Shore|Prepac|Nathan James",
    "dresser": "Ashley|Sauder|Walker Edison|South Shore|Prepac",
    "mattress topper": "Tempur-Pedic|Sleep Innovations|Linenspa|Mellanni|Amazon Basics|Casper",
    "office chair": "Herman Miller|Steelcase|Branch|Hbada|Sihoo|Flash Furniture|Amazon Basics",
    "standing desk": "FlexiSpot|Uplift|Branch|Vari|Amazon Basics|Fezibo",
    "desk": "Sauder|Bush Furniture|Walker Edison|Amazon Basics|Branch|Coleshome",
    "chair mat": "Amazon Basics|Floortex|Kuyal|Marvelux",
    "led bulb": "Philips|GE|Feit Electric|Sylvania|Cree|Amazon Basics|Sengled",
    "table lamp": "Brightech|Globe Electric|Amazon Basics|Catalina Lighting|Tomons|Philips",
    "floor lamp": "Brightech|Globe Electric|Amazon Basics|Catalina Lighting|Tomons",
    "desk lamp": "Brightech|TaoTronics|Globe Electric|Amazon Basics|BenQ|Philips",
    "ceiling light": "Globe Electric|Hampton Bay|Amazon Basics|Kichler|Philips",
    "patio umbrella": "Sunnydaze|Best Choice Products|Abba Patio|Amazon Basics|Classic Accessories",
    "patio furniture cover": "Classic Accessories|Duck Covers|Amazon Basics|Ultcover",
    "umbrella base": "Sunnydaze|Classic Accessories|Amazon Basics|Best Choice Products",
    "gas grill": "Weber|Char-Broil|Nexgrill|Napoleon|Cuisinart|Monument Grills",
    "charcoal grill": "Weber|Kamado Joe|Char-Griller|Big Green Egg|Char-Broil|Oklahoma Joe's",
    "pellet grill": "Traeger|Pit Boss|Camp Chef|Z Grills|Weber|Recteq",
    "griddle": "Blackstone|Pit Boss|Camp Chef|Nexgrill|Cuisinart",
    "grill cover": "Weber|Classic Accessories|Char-Broil|Unicook|Traeger|Blackstone",
    "grill brush": "Weber|Grillaholics|Kona|Char-Broil|Grillart",
    "wood pellets": "Traeger|Pit Boss|Bear Mountain|Lumberjack|Kingsford",
    "trimmer line": "Oregon|Husqvarna|Cyclone|Ryobi|Craftsman|EGO",
    "garden hose": "Flexzilla|Gilmour|Teknor Apex|Zero-G|Melnor",
    "hose nozzle": "Gilmour|Melnor|Dramm|Flexzilla",
    "drill bit set": "DeWalt|Milwaukee|Bosch|Makita|Ryobi|Irwin",
    "battery pack": "DeWalt|Milwaukee|Ryobi|Makita|Powerextra",
    "phone case": "OtterBox|Spigen|Casetify|ESR|ZAGG|Apple|Samsung|Amazon Basics",
    "screen protector": "ZAGG|Spigen|ESR|amFilm|Belkin",
    "phone charger": "Anker|Belkin|Apple|Samsung|Amazon Basics|UGREEN",
    "charging cable": "Anker|Belkin|Apple|Amazon Basics|UGREEN",
    "power bank": "Anker|Belkin|INIU|Mophie|Amazon Basics",
    "chromebook": "Acer|HP|Lenovo|ASUS|Samsung|Dell",
    "tablet": "Apple|Samsung|Amazon|Lenovo|Microsoft",
    "wireless mouse": "Logitech|Razer|Microsoft|Apple|Amazon Basics|Corsair",
    "keyboard": "Logitech|Razer|Corsair|Keychron|Microsoft|Apple",
    "laptop sleeve": "Targus|Amazon Basics|Incase|Tomtoc|Case Logic",
    "laptop stand": "Rain Design|Nulaxy|Amazon Basics|Twelve South|Belkin",
    "usb c hub": "Anker|Belkin|Satechi|UGREEN|Amazon Basics",
    "monitor": "Dell|LG|Samsung|ASUS|Acer|BenQ|HP",
    "soundbar": "Sony|Bose|Samsung|JBL|Sonos|Vizio",
    "bluetooth speaker": "JBL|Bose|Sony|Anker|Ultimate Ears|Marshall",
    "headphone case": "Amazon Basics|Case Logic|Geekria|Spigen",
    "tv": "Samsung|LG|Sony|TCL|Hisense|Vizio|Roku|Amazon",
    "tv wall mount": "Mounting Dream|Sanus|Echogear|Amazon Basics|USX Mount",
    "hdmi cable": "Amazon Basics|Belkin|Monoprice|Cable Matters|Anker",
    "streaming device": "Roku|Amazon|Google|Apple",
    "running shoes": "Nike|Adidas|New Balance|Brooks|ASICS|Hoka|Saucony|Skechers",
    "sneakers": "Nike|Adidas|New Balance|Converse|Vans|Skechers|Puma|Reebok",
    "boots": "Timberland|Dr. Martens|UGG|Columbia|Merrell|Sorel|Blundstone",
    "sandals": "Birkenstock|Teva|Crocs|Chaco|Reef|Adidas|Nike",
    "slippers": "UGG|Dearfoams|Minnetonka|Birkenstock|Acorn",
    "shoe insoles": "Dr. Scholl's|Superfeet|Powerstep|Spenco",
    "leggings": "Lululemon|Nike|Adidas|Under Armour|Gymshark|Amazon Essentials|Champion",
    "socks": "Hanes|Gildan|Nike|Adidas|Under Armour|Bombas|Darn Tough|Smartwool",
    "shampoo": "Pantene|Olaplex|OGX|Dove|L'Oreal|Head & Shoulders|Redken|SheaMoisture|Briogeo",
    "conditioner": "Pantene|Olaplex|OGX|Dove|L'Oreal|Redken|SheaMoisture|Briogeo",
    "hair dryer": "Dyson|Revlon|Conair|BaBylissPRO|T3|Shark",
    "hair straightener": "BaBylissPRO|CHI|Conair|GHD|Revlon|Dyson",
    "dog food": "Purina|Blue Buffalo|Hill's Science Diet|Royal Canin|Pedigree|Frisco",
    "dog bed": "Frisco|PetSafe|Furhaven|Amazon Basics|Big Barker",
    "dog leash": "Ruffwear|PetSafe|Frisco|Rabbitgoo|Blueberry Pet|Flexi",
    "dog harness": "Ruffwear|PetSafe|Frisco|Rabbitgoo|Blueberry Pet",
    "dog collar": "Ruffwear|PetSafe|Frisco|Blueberry Pet",
    "dog toy": "KONG|Nylabone|Frisco|Benebone|Chuckit!",
    "cat litter": "Fresh Step|Arm & Hammer|Tidy Cats|Dr. Elsey's|Frisco|Purina",
    "cat food": "Purina|Blue Buffalo|Hill's Science Diet|Royal Canin|Frisco|Fancy Feast",
    "litter box": "Catit|Frisco|PetSafe|IRIS USA|Petmate|Amazon Basics",
    "cat tree": "Frisco|Amazon Basics|Go Pet Club|Feandrea",
    "litter scoop": "Frisco|Petmate|iPrimio|Amazon Basics",
    "tent": "Coleman|Kelty|Marmot|Big Agnes|Nemo|Teton Sports|Core",
    "sleeping bag": "Kelty|Marmot|Big Agnes|Nemo|Teton Sports|Coleman",
    "sleeping pad": "Nemo|Therm-a-Rest|Big Agnes|Klymit|Teton Sports",
    "camping chair": "Coleman|GCI Outdoor|Helinox|Kelty|ALPS Mountaineering",
    "headlamp": "Black Diamond|Petzl|Coleman|Nitecore|Energizer",
    "cooler": "Yeti|Igloo|RTIC|Coleman|Stanley|Pelican",
    "yoga mat": "Gaiam|Manduka|Lululemon|Amazon Basics|JadeYoga|Liforme",
    "dumbbells": "Bowflex|CAP Barbell|Amazon Basics|Rogue|PowerBlock|Yes4All",
    "resistance bands": "TheraBand|Fit Simplify|Amazon Basics|Bodylastics|Gaiam",
    "foam roller": "TriggerPoint|Amazon Basics|Gaiam|LuxFit",
    "kettlebell": "CAP Barbell|Rogue|Amazon Basics|Bowflex|Yes4All",
    "yoga mat bag": "Gaiam|Manduka|Lululemon",
    "stroller": "Graco|Chicco|UPPAbaby|Evenflo|Baby Jogger|Britax|Nuna",
    "car seat": "Graco|Chicco|UPPAbaby|Evenflo|Britax|Nuna",
    "stroller organizer": "Skip Hop|Munchkin|Graco|UPPAbaby|Baby Jogger",
    "baby monitor": "Infant Optics|Owlet|Nanit|VTech|Eufy",
    "diapers": "Pampers|Huggies|Luvs|Honest|Hello Bello",
    "baby wipes": "Pampers|Huggies|WaterWipes|Honest|Hello Bello",
    "diaper cream": "Desitin|Aquaphor|Boudreaux's|Honest",
    "pens": "Pilot|BIC|Paper Mate|Sharpie|uni-ball|Zebra",
    "notebook": "Five Star|Moleskine|Mead|Leuchtturm1917|Amazon Basics|Rocketbook",
    "sticky notes": "Post-it|Amazon Basics|Early Buy|Mr. Pen",
    "ink cartridge": "HP|Canon|Epson|Brother|LxTek",
    "printer paper": "HP|Amazon Basics|Hammermill|Navigator",
}

# Accessory fitments follow the maker ("Apple" cases fit iPhones); "*" is any other (third-party) brand.
FITS_BY_BRAND: dict[str, dict[str, tuple[str, ...]]] = {
    "phone case": {
        "Apple": ("iPhone 15", "iPhone 15 Pro", "iPhone 14"),
        "Samsung": ("Galaxy S24", "Galaxy S24 Ultra", "Galaxy A15"),
    },
    "battery pack": {
        "DeWalt": ("DeWalt 20V",), "Milwaukee": ("Milwaukee M18",), "Ryobi": ("Ryobi 18V",),
        "Makita": ("Makita 18V",),
    },
    "ink cartridge": {
        "HP": ("HP 67", "HP 910"), "Canon": ("Canon PG-245",), "Epson": ("Epson 212",),
        "Brother": ("Brother LC3013",),
    },
    "replacement straw lid": {
        "Stanley": ("Stanley 40 oz",), "Yeti": ("Yeti 20 oz",), "Hydro Flask": ("Hydro Flask wide mouth",),
        "Owala": ("Owala 24 oz",),
    },
}

# Launch prices of the phone models: a Galaxy A15 is not priced like an S24 Ultra.
MODEL_PRICE: dict[str, float] = {
    "iPhone 15": 799, "iPhone 15 Pro": 999, "iPhone 14": 599, "Galaxy S24": 799, "Galaxy S24 Ultra": 1199,
    "Galaxy A15": 199, "Pixel 8": 699, "Pixel 8a": 499, "Moto G Power": 249, "Razr": 699,
}

PREMIUM_BRANDS = frozenset(_split(
    "Le Creuset|All-Clad|Yeti|Dyson|Herman Miller|Steelcase|Branch|Apple|Bose|Sony|Patagonia|Arc'teryx|"
    "Breville|Weber|Traeger|Kamado Joe|Hoka|UGG|Lululemon|Olaplex|Parachute|Brooklinen|Tempur-Pedic|"
    "Milwaukee|UPPAbaby|Nuna|Moleskine|La Roche-Posay|Polywood|Big Agnes|Nemo|Manduka|Rogue|Sennheiser|"
    "Owlet|Royal Canin|Zojirushi|KitchenAid|Casper|Redken|Clinique|Leuchtturm1917|Dr. Martens|Helly Hansen|"
    "Hydro Flask|Beats|Ruffwear|Kelty|Marmot|Bowflex|EGO|Samsung|LG|Lavazza|Peet's|Casetify"
))
BUDGET_BRANDS = frozenset(_split(
    "Amazon Basics|T-fal|Hamilton Beach|Utopia Towels|Zinus|Walker Edison|Nexgrill|Char-Broil|Black+Decker|"
    "Ryobi|Hanes|Gildan|Fruit of the Loom|Amazon Essentials|Skechers|Crocs|TCL|Hisense|Frisco|Coleman|"
    "Sterilite|Mr. Coffee|Luvs|BIC|Pedigree|Tidy Cats|Simple Modern|Feit Electric|Utopia Bedding|Teton Sports|"
    "Igloo|Evenflo|Fit Simplify|Mead|Paper Mate|Farberware|Hbada|Flash Furniture|Folgers|ESR|Tekton|"
    "Mainstays|Nathan James|Sunnydaze|Best Choice Products|Greenworks|Conair|Skullcandy|Acer|Motorola"
))
POPULAR_BRANDS: dict[str, float] = {
    "Apple": 4.0, "Samsung": 3.0, "Nike": 3.0, "Yeti": 3.0, "Stanley": 3.0, "Lodge": 2.5, "Ninja": 2.5,
    "KitchenAid": 2.0, "DeWalt": 2.5, "Weber": 2.0, "Dyson": 2.0, "CeraVe": 2.5, "Purina": 2.0,
    "Amazon Basics": 2.5, "Sony": 2.0, "Bose": 2.0, "LEGO": 3.0, "Keurig": 2.0, "Adidas": 2.0, "Owala": 2.0,
    "Hydro Flask": 1.8, "OtterBox": 2.0, "Anker": 2.0, "Pampers": 2.0, "Huggies": 1.8, "Instant": 1.8,
    "The North Face": 1.8, "Hoka": 1.6, "Logitech": 1.8, "Traeger": 1.6, "Blackstone": 1.8, "Milwaukee": 1.8,
    "Olaplex": 1.6, "JBL": 1.8, "Le Creuset": 1.5, "TCL": 1.5, "Brooks": 1.5, "Crocs": 1.6,
}

# Brands users search as the thing to find an alternative for ("yeti alternative", "like stanley").
ALTERNATIVE_TARGETS = frozenset(PREMIUM_BRANDS | {"Stanley", "Owala", "Ninja", "Lodge", "Crocs", "OtterBox", "Keurig"})

LINE_WORDS = (
    "Classic", "Pro", "Essentials", "Signature", "Premium", "Everyday", "Ultra", "Elite", "Original", "Plus",
    "Max", "Lite", "Sport", "Advanced", "Deluxe", "Select", "Heritage", "Studio", "Flex", "Prime",
)

DESCRIPTION_FILLERS = (
    "Backed by a 1-year limited warranty.",
    "Easy to clean and built to last.",
    "Ships in frustration-free packaging.",
    "Designed and tested by our in-house team.",
    "A customer favourite with thousands of five-star reviews.",
    "Lightweight and easy to store.",
    "Makes a great gift.",
    "Thoughtfully designed for everyday use.",
    "Made with durable, high-quality materials.",
    "Satisfaction guaranteed or your money back.",
)

# Question-style queries that no template can write: (text, target types, {attribute: accepted values}).
QUESTIONS: tuple[tuple[str, tuple[str, ...], dict[str, tuple[str, ...]]], ...] = (
    ("what do i need to clean a cast iron pan", ("chain mail scrubber", "cast iron conditioner"), {}),
    ("how do i season a cast iron skillet", ("cast iron conditioner",), {}),
    ("how to keep coffee hot on my commute", ("travel mug", "tumbler"), {}),
    ("what protects my phone if i drop it", ("phone case", "screen protector"), {}),
    ("how do i charge my iphone 15 faster", ("phone charger",), {"connector": ("USB-C",)}),
    ("what do i need to stop my dog pulling on walks", ("dog harness",), {"style": ("no pull",)}),
    ("what shoes are good for running a marathon", ("running shoes",), {}),
    ("what is good for frizzy hair", ("conditioner",), {}),
    ("what size tv should i get for a small bedroom", ("tv",), {"screen size": ("32 in", "43 in")}),
    ("what do i need to smoke a brisket", ("pellet grill", "wood pellets"), {}),
    ("how to clean grill grates", ("grill brush",), {}),
    ("what do i need for a first camping trip", ("tent", "sleeping bag", "sleeping pad"), {}),
    ("how do i keep my patio furniture dry in winter", ("patio furniture cover",), {}),
    ("what do i need to hang a tv on the wall", ("tv wall mount",), {}),
    ("how do i connect my laptop to a monitor", ("usb c hub", "hdmi cable"), {}),
    ("what is the best thing for back pain when sleeping", ("mattress", "mattress topper", "pillow"), {}),
    ("what sunscreen is safe for babies", ("sunscreen",), {"filter": ("mineral",)}),
    ("how do i stop my cat litter from smelling", ("cat litter",), {}),
    ("what do i need to start lifting weights at home", ("dumbbells", "kettlebell"), {}),
    ("how to get rid of weeds along a fence", ("string trimmer",), {}),
    ("what do i use to remove limescale from my kettle", ("descaling solution",), {}),
    ("what do i need to make espresso at home", ("coffee maker",), {"style": ("espresso",)}),
    ("how do i keep drinks cold at the beach", ("cooler",), {}),
    ("what is good for dry skin in winter", ("moisturizer",), {"skin type": ("dry",)}),
    ("what light bulbs do i need for a bedside lamp", ("led bulb",), {"base": ("E26",)}),
    ("how do i organize my closet", ("hangers", "storage bin", "shoe rack"), {}),
    ("what do i need to print photos at home", ("printer",), {"technology": ("inkjet",)}),
    ("what is a good gift for a 10 year old who likes building", ("building set",), {"age": ("8+",)}),
    ("how can i work standing up", ("standing desk",), {}),
    ("what do i need to change a diaper", ("diapers", "baby wipes", "diaper cream"), {}),
    ("how do i stop my desk chair scratching the floor", ("chair mat",), {}),
    ("what keeps my feet warm in the snow", ("boots",), {"style": ("hiking", "work")}),
)

QUESTION_TEMPLATES = (
    "what is the best {type} for {use}",
    "which {type} is good for {use}",
    "best {type} for {use}?",
    "what {type} should i buy for {use}",
    "do you sell a {type} for {use}",
)

COMMON_MISSPELLINGS: dict[str, str] = {
    "iphone": "ipone", "sneakers": "sneekers", "leggings": "legins", "dumbbells": "dumbells",
    "kettle": "kettel", "skillet": "skillit", "mattress": "matress", "headphones": "headphons",
    "earbuds": "earbudds", "stroller": "stroler", "sunscreen": "sunscren", "shampoo": "shampo",
    "jacket": "jaket", "tumbler": "tumblr", "blender": "blendr", "coffee": "cofee", "towel": "towl",
    "pillow": "pilow", "samsung": "samsun", "comforter": "comfortor", "moisturizer": "moisterizer",
    "dresser": "dreser", "litter": "liter", "keyboard": "keybord", "bluetooth": "bluetoth",
    "vacuum": "vaccum", "charger": "chager", "trimmer": "trimer", "grill": "gril", "hoodie": "hoody",
    "sandals": "sandles", "sweatshirt": "sweatshit", "bookshelf": "bookshelve", "umbrella": "umberella",
    "leather": "lether", "stainless": "stainles", "microfiber": "microfibre", "wireless": "wirless",
    "queen": "quen", "stanley": "stanly", "yeti": "yetti", "cuisinart": "cuisanart",
    "kitchenaid": "kitchen aid", "lululemon": "lulu lemon", "hydro": "hydroflask", "pellet": "pelet",
}

KEYBOARD_NEIGHBOURS: dict[str, str] = {
    "a": "qsz", "b": "vgn", "c": "xdv", "d": "sfe", "e": "wrd", "f": "dgr", "g": "fht", "h": "gjy",
    "i": "uok", "j": "hku", "k": "jli", "l": "ko", "m": "nj", "n": "bmh", "o": "ipl", "p": "ol",
    "q": "wa", "r": "etf", "s": "adw", "t": "ryg", "u": "yij", "v": "cbf", "w": "qes", "x": "zcs",
    "y": "tuh", "z": "xa",
}


def build_types() -> list[ProductType]:
    """Parse :data:`CATEGORIES` into :class:`ProductType` records (with symmetric relations left to the caller)."""
    out: list[ProductType] = []
    for category, (brands, specs) in CATEGORIES.items():
        cat_brands = tuple(dict.fromkeys(_split(brands)))
        for s in specs:
            bv = {k: {b: tuple(v) for b, v in m.items()} for k, m in s.get("brand_values", {}).items()}
            own = _split(BRANDS_BY_TYPE[s["name"]]) if s["name"] in BRANDS_BY_TYPE else cat_brands
            if s["name"] in FITS_BY_BRAND:
                fits = _attrs(s["attrs"])[s["compat"]]
                bv[s["compat"]] = {**dict.fromkeys(own, fits), **FITS_BY_BRAND[s["name"]]}
            type_brands = tuple(b for b in own if not bv or all(b in m for m in bv.values()))
            out.append(
                ProductType(
                    name=s["name"],
                    category=category,
                    synonyms=_split(s["syn"]),
                    price=float(s["price"]),
                    attrs=_attrs(s["attrs"]),
                    title_attrs=_title_attrs(s["title"], set(_attrs(s["attrs"])) | set(bv)),
                    brands=type_brands,
                    negations=_negs(s.get("neg", "")),
                    accessory_for=_split(s.get("acc", "")),
                    complements=_split(s.get("comp", "")),
                    substitutes=_split(s.get("subs", "")),
                    uses=_split(s.get("uses", "")),
                    compat=s.get("compat"),
                    pscale=s.get("pscale"),
                    brand_values=bv,
                    weight=float(s.get("weight", 1.0)),
                )
            )
    return out
