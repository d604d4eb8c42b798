# search-service/src/search_service/query/parser.py: a stand-in (generate.py)
