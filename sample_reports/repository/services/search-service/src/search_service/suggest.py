# search-service/src/search_service/suggest.py: a stand-in (generate.py)
