"""fluxserve: a self-hosted, drop-in FLUX image-generation API."""
