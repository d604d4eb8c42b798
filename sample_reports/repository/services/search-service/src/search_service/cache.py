# search-service/src/search_service/cache.py: a stand-in (generate.py)
