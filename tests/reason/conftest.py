"""A tiny hand-written catalogue shared by the reasoning tests."""

from __future__ import annotations

import pandas as pd
import pytest

PRODUCTS = [
    (
        "p1",
        "Nike Air Zoom Running Shoes",
        "Nike",
        "Shoes > Running Shoes",
        {"color": "black", "material": "mesh", "gender": "men"},
        "Lightweight running shoe.",
        89.0,
    ),
    (
        "p2",
        "Adidas Ultraboost Running Shoes",
        "Adidas",
        "Shoes > Running Shoes",
        {"color": "white", "material": "knit", "gender": "women"},
        "Responsive running shoe.",
        120.0,
    ),
    (
        "p3",
        "Leather Oxford Dress Shoes",
        "Clarks",
        "Shoes > Dress Shoes",
        {"color": "brown", "material": "leather", "gender": "men"},
        "Classic leather shoe.",
        95.0,
    ),
    (
        "p4",
        "Canvas Low Top Sneakers",
        "Vans",
        "Shoes > Sneakers",
        {"color": "red", "material": "canvas"},
        "Vegan canvas sneaker.",
        45.0,
    ),
    (
        "p5",
        "Gel Shoe Insoles for Running Shoes",
        "Dr. Scholl's",
        "Shoes > Shoe Care",
        {"size": "medium"},
        "Cushioning insoles.",
        15.0,
    ),
    (
        "p6",
        "Apple iPhone 13 128GB",
        "Apple",
        "Electronics > Phones",
        {"color": "blue", "storage": "128GB"},
        "Smartphone.",
        699.0,
    ),
    (
        "p7",
        "Silicone Case for iPhone 13",
        "Spigen",
        "Electronics > Phone Accessories > Phone Cases",
        {"color": "black", "material": "silicone"},
        "Protective case.",
        19.0,
    ),
    (
        "p8",
        "Samsung Galaxy S22 Phone",
        "Samsung",
        "Electronics > Phones",
        {"color": "black"},
        "Android phone.",
        650.0,
    ),
    (
        "p9",
        "USB-C Charger for Samsung Galaxy Phone",
        "Anker",
        "Electronics > Phone Accessories > Chargers",
        {"color": "white"},
        "Fast charger.",
        25.0,
    ),
    (
        "p10",
        "Stainless Steel Water Bottle 32 oz",
        "Hydro Flask",
        "Kitchen > Water Bottles",
        {"color": "blue", "capacity": "32 oz", "material": "stainless steel"},
        "BPA-free insulated bottle.",
        39.0,
    ),
    (
        "p11",
        "Plastic Water Bottle 24 oz",
        "Nalgene",
        "Kitchen > Water Bottles",
        {"color": "clear", "capacity": "24 oz", "material": "plastic"},
        "Durable bottle.",
        12.0,
    ),
    (
        "p12",
        "Gluten-Free Pasta 12 oz",
        "Barilla",
        "Grocery > Pasta",
        {"pack_size": "1"},
        "Corn and rice pasta.",
        3.5,
    ),
    (
        "p13",
        "Whole Wheat Pasta 16 oz",
        "Barilla",
        "Grocery > Pasta",
        {"pack_size": "1"},
        "Wheat pasta with gluten.",
        2.5,
    ),
    (
        "p14",
        "Toro 22 in. Gas Lawn Mower with Briggs Engine",
        "Toro",
        "Garden > Lawn Mowers",
        {"power": "gas"},
        "Self-propelled lawn mower.",
        399.0,
    ),
    (
        "p15",
        "Replacement Blade for Toro 22 in. Lawn Mower",
        "Toro",
        "Garden > Mower Parts",
        {},
        "Mower blade.",
        29.0,
    ),
    (
        "p16",
        "Crocs Classic Clog",
        "Crocs",
        "Shoes > Clogs",
        {"color": "green", "material": "rubber"},
        "Comfortable clog.",
        50.0,
    ),
    (
        "p17",
        "Foam Garden Clog",
        "Amazon Basics",
        "Shoes > Clogs",
        {"color": "green", "material": "foam"},
        "Comfortable clog.",
        20.0,
    ),
    (
        "p18",
        "Leather Running Shoes",
        "Asics",
        "Shoes > Running Shoes",
        {"color": "black", "material": "leather"},
        "Leather runner.",
        110.0,
    ),
    (
        "p19",
        "Women's Trail Running Shoes",
        "Salomon",
        "Shoes > Running Shoes",
        {"color": "blue", "gender": "women"},
        "Trail shoe. Also sold as: trail runners.",
        140.0,
    ),
    (
        "p20",
        "Kids Rain Boots",
        "Hunter",
        "Shoes > Boots",
        {"color": "yellow", "gender": "kids", "material": "rubber"},
        "Waterproof boot.",
        60.0,
    ),
    (
        "p21",
        "UGG Shearling Slippers",
        "UGG",
        "Shoes > Boots",
        {"color": "tan", "material": "suede"},
        "Cozy slipper.",
        90.0,
    ),
]
COLUMNS = ["product_id", "title", "brand", "category", "attributes", "description", "price"]


@pytest.fixture()
def mini_products() -> pd.DataFrame:
    return pd.DataFrame(PRODUCTS, columns=COLUMNS)


@pytest.fixture()
def mini_pairs(mini_products: pd.DataFrame) -> pd.DataFrame:
    """Judged pairs over the mini catalogue, as ``Dataset.pairs()`` returns them."""
    judged = [
        ("q1", "running shoes", "p1", 3),
        ("q1", "running shoes", "p5", 1),
        ("q1", "running shoes", "p6", 0),
        ("q2", "nike running shoes", "p2", 2),
        ("q2", "nike running shoes", "p1", 3),
        ("q3", "shoes not leather", "p3", 1),
        ("q3", "shoes not leather", "p4", 3),
        ("q4", "water bottle under $20", "p10", 2),
        ("q4", "water bottle under $20", "p11", 3),
        ("q5", "iphone case", "p7", 3),
        ("q5", "iphone case", "p6", 1),
        ("q5", "iphone case", "p9", 0),
        ("q6", "crocs alternative", "p17", 3),
        ("q6", "crocs alternative", "p16", 2),
        ("q7", "lawn mower", "p14", 3),
        ("q7", "lawn mower", "p15", 1),
        ("q8", "gluten free pasta", "p12", 3),
        ("q8", "gluten free pasta", "p13", 2),  # p13: gold disagrees
    ]
    j = pd.DataFrame(judged, columns=["query_id", "query", "product_id", "grade"])
    return j.merge(mini_products, on="product_id", how="left")
