"""The catalogue's endpoints (shop the look), for :class:`~fashion_mrcnn.app.server.WebApp`:

==============================================  ==============================================
``GET /api/results/{id}/similar/{k}``           catalogue items like instance ``k`` of a result
``GET /api/results/{id}/similar/photo``         items like the whole photo (when it shows no
                                                garment); every category unless ``?category=``
``GET /api/catalog/items/{item}/similar``       "more like this": items like a catalogue item
                                                (the item itself left out)
``GET /api/catalog/crops/{item}.jpg``           a catalogue item's thumbnail
==============================================  ==============================================

The searches take ``?top=`` (1-50, default ``Limits.similar_top``), ``?category=`` (a source
category id as in ``predict`` records' ``class_id``, or ``all``; default: the query's own
category) and ``?colour=`` (one of ``embedding.COLOUR_NAMES``). They answer ``{"query",
"items" (best first: the item's fields from ``items.jsonl``, ``id``, ``similarity``,
``crop_url``), "class_items" (items of the searched category), "message" (why the list is
empty, else null)}``. While the catalogue is still being built they answer 503 with the
progress; without a catalogue, 404.
"""

from __future__ import annotations

from fashion_mrcnn.app.embedding import COLOUR_NAMES, SHAPE_DIM
from fashion_mrcnn.app.params import BadRequest, number


class ShopApi:
    """The endpoints above over one app (``webapp.catalog``, ``webapp.status``)."""

    def __init__(self, webapp):
        self.webapp = webapp

    def _catalog(self):
        catalog = self.webapp.catalog
        if catalog is not None:
            return catalog
        status = self.webapp.status["catalog"]
        if status["state"] in ("waiting", "indexing"):
            raise BadRequest(
                503,
                f"the catalogue is still being prepared ({status['done']} of "
                f"{status['total'] or '?'} photos): try again in a moment",
            )
        raise BadRequest(404, "no catalogue is loaded: start the app with --catalog INDEX")

    def _filters(self, request, catalog, own_category: int | None):
        """(category id or None for all, colour name or None) from the query string."""
        text = request.query_params.get("category")
        if text is None:
            category = own_category
        elif text == "all":
            category = None
        else:
            try:
                category = int(text)
            except ValueError:
                raise BadRequest(400, f"category={text!r} is not a category id or 'all'") from None
        colour = request.query_params.get("colour") or None
        if colour is not None and colour not in COLOUR_NAMES:
            raise BadRequest(400, f"colour={colour!r} is not one of {', '.join(COLOUR_NAMES)}")
        return category, colour

    def _answer(self, catalog, query: dict, vector, category, colour, top, exclude=()):
        from starlette.responses import JSONResponse

        items = catalog.search(vector, category, colour, int(top), exclude=exclude)
        for item in items:
            item["crop_url"] = f"api/catalog/crops/{item['id']}.jpg"
        counts = catalog.index.counts()
        in_class = sum(counts.values()) if category is None else counts.get(category, 0)
        what = query["class_name"] if category == query.get("category_id") else "matching"
        message = None
        if not in_class:
            message = f"The catalogue holds no '{query['class_name']}' items."
        elif not items:
            message = f"No {colour or ''} {what} items in the catalogue.".replace("  ", " ")
        return JSONResponse(
            {"query": query, "items": items, "class_items": in_class, "message": message}
        )

    async def similar(self, request):
        """Items like garment ``k`` of a kept result."""
        webapp = self.webapp
        catalog = self._catalog()
        kept = webapp._result(request)
        k = int(request.path_params["k"])
        if not 0 <= k < len(kept.class_ids):
            raise BadRequest(404, f"result {kept.id} has no instance {k}")
        top = number(request, "top", webapp.limits.similar_top, 1, 50)
        internal = int(kept.class_ids[k])
        own = int(webapp.engine.category_ids[internal])
        category, colour = self._filters(request, catalog, own)
        shape = kept.shape[k] if kept.shape is not None else [0.0] * SHAPE_DIM
        vector = catalog.query_vector(kept.roi[k], shape, kept.colour[k])
        query = {
            "index": k,
            "class_name": webapp.engine.class_names[internal],
            "category_id": own,
            "score": float(kept.scores[k]),
        }
        return self._answer(catalog, query, vector, category, colour, top)

    async def similar_photo(self, request):
        """Items like the whole photo of a kept result (its shape part left out)."""
        webapp = self.webapp
        catalog = self._catalog()
        kept = webapp._result(request)
        if kept.photo is None:
            raise BadRequest(404, f"result {kept.id} has no whole-photo descriptor")
        top = number(request, "top", webapp.limits.similar_top, 1, 50)
        category, colour = self._filters(request, catalog, None)
        vector = catalog.query_vector(kept.photo["roi"], None, kept.photo["colour"])
        query = {"photo": kept.name, "class_name": "garment", "category_id": None}
        return self._answer(catalog, query, vector, category, colour, top)

    async def more_like(self, request):
        """Items like catalogue item ``item`` ("more like this" on a card)."""
        catalog = self._catalog()
        item = self._item(request, catalog)
        top = number(request, "top", self.webapp.limits.similar_top, 1, 50)
        own = int(catalog.items[item]["category_id"])
        category, colour = self._filters(request, catalog, own)
        query = {
            "item": item,
            "class_name": catalog.items[item]["class_name"],
            "category_id": own,
            "label": catalog.items[item]["label"],
        }
        return self._answer(
            catalog, query, catalog.vectors[item], category, colour, top, exclude=[item]
        )

    @staticmethod
    def _item(request, catalog) -> int:
        item = int(request.path_params["item"])
        if not 0 <= item < len(catalog):
            raise BadRequest(404, f"no catalogue item {item}")
        return item

    async def crop(self, request):
        from starlette.responses import FileResponse

        catalog = self._catalog()
        return FileResponse(catalog.dir / catalog.items[self._item(request, catalog)]["crop"])

    def routes(self) -> list:
        from starlette.routing import Route

        return [
            Route("/api/results/{rid}/similar/{k:int}", self.similar),
            Route("/api/results/{rid}/similar/photo", self.similar_photo),
            Route("/api/catalog/items/{item:int}/similar", self.more_like),
            Route("/api/catalog/crops/{item:int}.jpg", self.crop),
        ]
