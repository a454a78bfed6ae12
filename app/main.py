"""EventProp Lab: ``panel serve app`` serves this page at http://localhost:5006/app."""

from eventprop.lab import Lab

Lab().servable()
