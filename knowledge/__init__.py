"""The corpus side of Guichet: DILA XML parsing, chunking, Chroma and lexical indexes, ingestion.

Never imports `bot` or `chains`. See `knowledge.models` for the data types shared with them.
"""
