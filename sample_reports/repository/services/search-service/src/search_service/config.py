# search-service/src/search_service/config.py: a stand-in (generate.py)
