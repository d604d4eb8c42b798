# search-service/src/search_service/synonyms.py: a stand-in (generate.py)
