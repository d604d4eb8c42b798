# search-service/src/search_service/backends/__init__.py: a stand-in (generate.py)
