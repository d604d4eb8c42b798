# search-service/src/search_service/api/__init__.py: a stand-in (generate.py)
