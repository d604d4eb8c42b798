# search-service/src/search_service/__init__.py: a stand-in (generate.py)
