"""The datasources of the docs page "Action Network" (docs/datasources/action-network.md, block `an-module`)."""

from pyck.contrib.action_network import Attendances, Donations, Events, People, Tags

people = People()
tags = Tags()
events = Events()
attendances = Attendances()
donations = Donations()
