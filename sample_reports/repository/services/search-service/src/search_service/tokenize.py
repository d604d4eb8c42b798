# search-service/src/search_service/tokenize.py: a stand-in (generate.py)
