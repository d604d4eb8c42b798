# search-service/src/search_service/index/__init__.py: a stand-in (generate.py)
