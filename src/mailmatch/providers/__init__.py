"""Provider knowledge: the catalog, discovery of settings for any address, app-password rules."""
