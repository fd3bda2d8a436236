from fluxserve.cli.main import main

main()
