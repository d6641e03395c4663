"""Study code, apart from the product: sampler analysis and sweeps (:mod:`.analysis`), reading
and comparing runs (:mod:`.compare`), the synthetic demo data (:mod:`.demo_data`)."""
