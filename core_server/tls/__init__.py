"""TLS for every port: the appliance CA, certificates, and the contexts that the HTTP, DICOM
and HL7 listeners use."""
