# search-service/src/search_service/query/__init__.py: a stand-in (generate.py)
