# search-service/src/search_service/query/highlight.py: a stand-in (generate.py)
